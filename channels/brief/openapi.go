package brief

import (
	"encoding/json"

	"github.com/instroom/instroom/ingest/intakeapi"
)

// OpenAPI returns the letter part of the intake API's OpenAPI document: the two letter
// endpoints and brief.schema.json, unchanged, as component schema Brief. It implements
// intakeapi.Documented.
func (rt *briefRuntime) OpenAPI() intakeapi.Part { return openAPIPart() }

var _ intakeapi.Documented = (*briefRuntime)(nil)

// exampleScanID is the scanId of the document's examples (contracts/examples/brief-c2138.json).
const exampleScanID = "SCAN-20240312-000123"

func openAPIPart() intakeapi.Part {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	klantcontact := map[string]any{"type": "string", "format": "uuid", "description": "De uuid van het klantcontact dat de brief wordt (UUIDv5, contract §10)."}
	post := map[string]any{
		"operationId": "briefAanleveren",
		"summary":     "Eén gescande brief aanleveren.",
		"description": "Precies één deel `metadata` (een brief.schema.json-document, application/json) en één deel `scan` (PDF, TIFF, PNG of JPEG, bepaald door de eerste bytes), in willekeurige volgorde. 202 volgt pas als de brief duurzaam in de dropzone staat. Dezelfde scanId met dezelfde inhoud geeft hetzelfde antwoord; met andere inhoud 409.",
		"tags":        []string{"brieven"},
		"requestBody": map[string]any{
			"required": true,
			"content": map[string]any{"multipart/form-data": map[string]any{
				"schema": map[string]any{
					"type":                 "object",
					"required":             []string{"metadata", "scan"},
					"additionalProperties": false,
					"properties": map[string]any{
						"metadata": map[string]any{"$ref": "#/components/schemas/Brief"},
						"scan":     map[string]any{"type": "string", "contentMediaType": "application/octet-stream", "description": "De scan: PDF, TIFF, PNG of JPEG."},
					},
				},
				"examples": map[string]any{"brief": map[string]any{
					"summary": "Een brief met een (minimale) PDF.",
					"value": map[string]any{
						"metadata": map[string]any{"scanId": exampleScanID, "gescandOp": "2024-03-12T09:41:17+01:00", "bestand": exampleScanID + ".pdf", "documenttype": "brief"},
						"scan":     "%PDF-1.7\n%%EOF\n",
					},
				}},
				"encoding": map[string]any{
					"metadata": map[string]any{"contentType": "application/json"},
					"scan":     map[string]any{"contentType": "application/octet-stream"},
				},
			}},
		},
		"responses": merge(map[string]any{
			"202": map[string]any{
				"description": "Aanvaard: de brief staat in de dropzone en wordt verwerkt.",
				"headers":     intakeapi.ResponseHeaders("Location"),
				"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
					"type":                 "object",
					"required":             []string{"klantcontact", "status"},
					"additionalProperties": false,
					"properties": map[string]any{
						"klantcontact": klantcontact,
						"status":       map[string]any{"type": "string", "const": "aanvaard"},
					},
				}}},
			},
		}, intakeapi.ProblemResponses(400, 401, 403, 409, 413, 415, 429, 500, 503)),
	}
	get := map[string]any{
		"operationId": "briefStatus",
		"summary":     "De verwerkingsstatus van een aangeleverde brief.",
		"description": "aanvaard (wacht op verwerking), verwerkt, of mislukt met de redencode. Een scanId die deze leverancier niet (meer) in de dropzone heeft geeft 404.",
		"tags":        []string{"brieven"},
		"parameters": []any{map[string]any{
			"name": "scanId", "in": "path", "required": true,
			"schema":  map[string]any{"type": "string", "pattern": scanIDRE.String()},
			"example": exampleScanID,
		}},
		"responses": merge(map[string]any{
			"200": map[string]any{
				"description": "De status van de brief.",
				"headers":     intakeapi.ResponseHeaders(),
				"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
					"type":                 "object",
					"required":             []string{"scanId", "klantcontact", "status"},
					"additionalProperties": false,
					"properties": map[string]any{
						"scanId":       str("De scanId van de leverancier."),
						"klantcontact": klantcontact,
						"status":       map[string]any{"type": "string", "enum": []string{"aanvaard", "verwerkt", "mislukt"}},
						"reden":        str("Bij mislukt: de redencode van contract §8 (unparseable, invalid, too_large, unsupported_format, missing_scan, missing_sidecar, unreadable, rejected, panic)."),
					},
				}}},
			},
		}, intakeapi.ProblemResponses(401, 403, 404, 429, 500, 503)),
	}
	return intakeapi.Part{
		Paths:   map[string]any{"/brieven": map[string]any{"post": post}, "/brieven/{scanId}": map[string]any{"get": get}},
		Schemas: map[string]json.RawMessage{"Brief": schemaJSON},
	}
}

func merge(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}
