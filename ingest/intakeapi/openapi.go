package intakeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
)

// DocumentPath is where the OpenAPI document is served, without authentication.
const DocumentPath = "/v1/openapi.json"

// Part is what one channel adds to the OpenAPI document: its paths (relative to the
// server URL /v1, e.g. "/brieven") and its component schemas (its schema files,
// unchanged). Paths may refer to the shared components: the schemas Probleem and
// OngeldigeParameter, the responses of ProblemResponses and the headers of
// ResponseHeaders.
type Part struct {
	Paths   map[string]any
	Schemas map[string]json.RawMessage
}

// Documented is implemented by a channel runtime that has intake endpoints: the host
// assembles the OpenAPI document from every such part.
type Documented interface {
	OpenAPI() Part
}

// document is the OpenAPI document's top level, in the order it is written.
type document struct {
	OpenAPI    string           `json:"openapi"`
	Info       map[string]any   `json:"info"`
	Servers    []map[string]any `json:"servers"`
	Security   []map[string]any `json:"security"`
	Tags       []map[string]any `json:"tags,omitempty"`
	Paths      map[string]any   `json:"paths"`
	Components map[string]any   `json:"components"`
}

// Document assembles the OpenAPI 3.1 document of the intake API from the channels'
// parts. The result depends only on the parts, so a copy of it can be kept in docs/ and
// compared.
func Document(parts ...Part) ([]byte, error) {
	paths := map[string]any{"/openapi.json": openAPIPath()}
	schemas := map[string]any{"Probleem": problemSchema(), "OngeldigeParameter": invalidParamSchema()}
	for _, p := range parts {
		for k, v := range p.Paths {
			if _, dup := paths[k]; dup {
				return nil, fmt.Errorf("openapi: path %s is added twice", k)
			}
			paths[k] = v
		}
		for k, v := range p.Schemas {
			if _, dup := schemas[k]; dup {
				return nil, fmt.Errorf("openapi: schema %s is added twice", k)
			}
			if !json.Valid(v) {
				return nil, fmt.Errorf("openapi: schema %s is not JSON", k)
			}
			schemas[k] = v
		}
	}
	d := document{
		OpenAPI: "3.1.0",
		Info: map[string]any{
			"title":       "Instroom intake-API",
			"version":     APIVersion,
			"description": "Leveranciers (documentsystemen, scanstraten, chatplatforms) leveren hier brieven en gesprekken aan. Elk verzoek behalve GET /openapi.json heeft `Authorization: Bearer <token>`. Een leverancier met webhook-geheimen ondertekent elke POST volgens Standard Webhooks 1.0 (`webhook-id`, `webhook-timestamp`, `webhook-signature`). Fouten zijn RFC 9457 problem details.",
			"contact":     map[string]any{"name": "Instroom", "url": "https://github.com/instroom/instroom"},
		},
		Servers:  []map[string]any{{"url": "/v1", "description": "Deze Instroom-server"}},
		Security: []map[string]any{{"bearer": []string{}}},
		Paths:    paths,
		Components: map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{
				"type": "http", "scheme": "bearer",
				"description": "Een ondoorzichtig token per leverancier; Instroom bewaart alleen de SHA-256 ervan.",
			}},
			"schemas":   schemas,
			"responses": problemResponses(),
			"headers":   headerComponents(),
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return buf.Bytes(), nil
}

// DocumentHandler serves the document, to everyone (Access-Control-Allow-Origin: *).
func DocumentHandler(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Content-Length", strconv.Itoa(len(doc)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(doc)
	})
}

// responseName names the shared response of each problem status.
var responseNames = map[int]string{
	400: "Ongeldig", 401: "NietGeauthenticeerd", 403: "NietToegestaan", 404: "NietGevonden",
	405: "MethodeNietToegestaan", 409: "Conflict", 413: "TeGroot", 415: "MediatypeNietOndersteund",
	429: "TeVeelVerzoeken", 500: "InterneFout", 503: "NietBeschikbaar",
}

// ProblemResponses returns the responses object entries ("400": {"$ref": ...}) of the
// given problem statuses, for a channel's operations.
func ProblemResponses(statuses ...int) map[string]any {
	out := map[string]any{}
	for _, s := range statuses {
		if n, ok := responseNames[s]; ok {
			out[strconv.Itoa(s)] = map[string]any{"$ref": "#/components/responses/" + n}
		}
	}
	return out
}

// ResponseHeaders returns the headers every response documents (API-Version), plus the
// named shared headers ("Location", "Retry-After", "WWW-Authenticate", "Allow").
func ResponseHeaders(names ...string) map[string]any {
	out := map[string]any{"API-Version": map[string]any{"$ref": "#/components/headers/API-Version"}}
	for _, n := range names {
		out[n] = map[string]any{"$ref": "#/components/headers/" + n}
	}
	return out
}

func headerComponents() map[string]any {
	str := func(desc string, required bool, schema map[string]any) map[string]any {
		return map[string]any{"description": desc, "required": required, "schema": schema}
	}
	return map[string]any{
		"API-Version":      str("De versie van de API.", true, map[string]any{"type": "string", "const": APIVersion}),
		"Location":         str("Het statusadres van de aanlevering.", true, map[string]any{"type": "string"}),
		"Retry-After":      str("Seconden tot een nieuwe poging zin heeft.", true, map[string]any{"type": "string", "pattern": "^[1-9][0-9]*$"}),
		"WWW-Authenticate": str("De Bearer-uitdaging (RFC 6750).", true, map[string]any{"type": "string"}),
		"Allow":            str("De toegestane methoden.", true, map[string]any{"type": "string"}),
	}
}

func problemResponses() map[string]any {
	out := map[string]any{}
	statuses := make([]int, 0, len(responseNames))
	for s := range responseNames {
		statuses = append(statuses, s)
	}
	sort.Ints(statuses)
	for _, s := range statuses {
		var codes []string
		for _, c := range Codes() {
			if c.Status() == s {
				codes = append(codes, string(c))
			}
		}
		var extra []string
		switch s {
		case 401:
			extra = []string{"WWW-Authenticate"}
		case 405:
			extra = []string{"Allow"}
		case 429, 503:
			extra = []string{"Retry-After"}
		}
		desc := Code(codes[0]).Title()
		out[responseNames[s]] = map[string]any{
			"description": desc,
			"headers":     ResponseHeaders(extra...),
			"content": map[string]any{"application/problem+json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/Probleem"},
			}},
		}
	}
	return out
}

func problemSchema() map[string]any {
	return map[string]any{
		"type":     "object",
		"required": []string{"type", "title", "status"},
		"properties": map[string]any{
			"type":          map[string]any{"type": "string", "pattern": "^urn:instroom:probleem:[a-z-]+$"},
			"title":         map[string]any{"type": "string"},
			"status":        map[string]any{"type": "integer", "minimum": 400, "maximum": 599},
			"detail":        map[string]any{"type": "string"},
			"invalidParams": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/OngeldigeParameter"}},
		},
	}
}

func invalidParamSchema() map[string]any {
	return map[string]any{
		"type":     "object",
		"required": []string{"name", "code", "reason"},
		"properties": map[string]any{
			"name":   map[string]any{"type": "string", "description": "Een deelnaam of een JSON Pointer in het document (\"\" is het hele document)."},
			"code":   map[string]any{"type": "string", "description": "Het JSON Schema-sleutelwoord dat faalt, of json, unknown-part, duplicate-part."},
			"reason": map[string]any{"type": "string"},
		},
	}
}

func openAPIPath() map[string]any {
	return map[string]any{"get": map[string]any{
		"operationId": "openapi",
		"summary":     "Dit OpenAPI-document.",
		"security":    []any{},
		"responses": map[string]any{
			"200": map[string]any{
				"description": "Het OpenAPI 3.1-document.",
				"headers":     ResponseHeaders(),
				"content":     map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}},
			},
			"500": map[string]any{"$ref": "#/components/responses/InterneFout"},
		},
	}}
}
