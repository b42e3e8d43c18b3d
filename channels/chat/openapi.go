package chat

import (
	"bytes"
	"encoding/json"

	"github.com/instroom/instroom/ingest/intakeapi"
)

// OpenAPI returns the transcript part of the intake API's OpenAPI document: the two
// transcript endpoints and gesprek.schema.json as component schema Gesprek. The schema is
// the contract's file with one change: its internal references ("#/$defs/x") point into
// the component ("#/components/schemas/Gesprek/$defs/x"). Embedded unchanged they only
// resolve for tools that honour the schema's own $id, which OpenAPI tools (kin-openapi,
// schemathesis, code generators) do not: they would skip or reject those parts.
// It implements intakeapi.Documented.
func (rt *chatRuntime) OpenAPI() intakeapi.Part { return openAPIPart() }

var _ intakeapi.Documented = (*chatRuntime)(nil)

// exampleGesprek is contracts/examples/gesprek-c1242-beantwoord.json, shortened; from vendor
// chatleverancier it becomes klantcontact exampleGesprekKlantcontact (§10).
const (
	exampleGesprekID           = "gsp-2024-03-12-8f3a1c"
	exampleGesprekKlantcontact = "65c7a3ea-3568-5a6e-8685-859af17d5b67"
	exampleGesprek             = `{"gesprekId":"gsp-2024-03-12-8f3a1c","kanaal":"chat","leverancier":"Voorbeeld Chatbot","gestartOp":"2024-03-12T14:02:05+01:00","beeindigdOp":"2024-03-12T14:04:52+01:00","intentie":"paspoort aanvragen","taal":"nld","berichten":[{"van":"klant","tijdstip":"2024-03-12T14:02:05+01:00","tekst":"Mijn paspoort verloopt volgende maand. Hoe vraag ik een nieuw paspoort aan?"},{"van":"bot","tijdstip":"2024-03-12T14:02:07+01:00","tekst":"U vraagt een nieuw paspoort aan bij de balie Burgerzaken in het Stadskantoor. Maak daarvoor eerst online een afspraak."},{"van":"klant","tijdstip":"2024-03-12T14:04:38+01:00","tekst":"Duidelijk, dank u wel!"}],"uitkomst":{"soort":"beantwoord","tevreden":true},"kenmerken":{"pagina":"/burgerzaken/paspoort"}}`
)

func openAPIPart() intakeapi.Part {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	klantcontact := map[string]any{"type": "string", "format": "uuid", "description": "De uuid van het klantcontact dat het gesprek wordt (UUIDv5, contract §10)."}
	header := func(name, desc, pattern string) map[string]any {
		return map[string]any{"name": name, "in": "header", "required": false, "description": desc,
			"schema": map[string]any{"type": "string", "pattern": pattern}}
	}
	post := map[string]any{
		"operationId": "gesprekAanleveren",
		"summary":     "Eén afgerond gesprek aanleveren.",
		"description": "De body is een gesprek.schema.json-document (application/json, UTF-8). 202 volgt pas als het gesprek duurzaam in de dropzone staat. Dezelfde gesprekId met dezelfde inhoud geeft hetzelfde antwoord; met andere inhoud 409. Een leverancier met webhook-geheimen ondertekent elk verzoek volgens Standard Webhooks 1.0 (webhook-id, webhook-timestamp, webhook-signature over `{id}.{timestamp}.{body}`, HMAC-SHA256, 5 minuten tolerantie); een herhaalde webhook-id krijgt het eerdere antwoord en er wordt niets geschreven.",
		"tags":        []string{"gesprekken"},
		"parameters": []any{
			header("webhook-id", "Standard Webhooks: de unieke id van dit bericht (verplicht voor leveranciers met webhook-geheimen).", "^[A-Za-z0-9_-]{1,64}$"),
			header("webhook-timestamp", "Standard Webhooks: Unix-seconden (verplicht voor leveranciers met webhook-geheimen).", "^[0-9]{1,19}$"),
			header("webhook-signature", "Standard Webhooks: door spaties gescheiden v1,<base64>-handtekeningen (verplicht voor leveranciers met webhook-geheimen).", "^v[0-9a-z]+,[A-Za-z0-9+/=]+( v[0-9a-z]+,[A-Za-z0-9+/=]+)*$"),
		},
		"requestBody": map[string]any{
			"required": true,
			"content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/Gesprek"},
				"examples": map[string]any{"beantwoord": map[string]any{
					"summary": "Een vraag die de chatbot beantwoordde (C1242).",
					"value":   json.RawMessage(exampleGesprek),
				}},
			}},
		},
		"responses": merge(map[string]any{
			"202": map[string]any{
				"description": "Aanvaard: het gesprek staat in de dropzone en wordt verwerkt.",
				"headers":     intakeapi.ResponseHeaders("Location"),
				"content": map[string]any{"application/json": map[string]any{
					"schema": map[string]any{
						"type":                 "object",
						"required":             []string{"klantcontact", "status"},
						"additionalProperties": false,
						"properties": map[string]any{
							"klantcontact": klantcontact,
							"status":       map[string]any{"type": "string", "const": "aanvaard"},
						},
					},
					"example": map[string]any{"klantcontact": exampleGesprekKlantcontact, "status": "aanvaard"},
				}},
			},
		}, intakeapi.ProblemResponses(400, 401, 403, 409, 413, 415, 429, 500, 503)),
	}
	get := map[string]any{
		"operationId": "gesprekStatus",
		"summary":     "De verwerkingsstatus van een aangeleverd gesprek.",
		"description": "aanvaard (wacht op verwerking), verwerkt, of mislukt met de redencode. Een gesprekId die deze leverancier niet (meer) in de dropzone heeft geeft 404.",
		"tags":        []string{"gesprekken"},
		"parameters": []any{map[string]any{
			"name": "gesprekId", "in": "path", "required": true,
			"schema":  map[string]any{"type": "string", "pattern": gesprekIDRE.String()},
			"example": exampleGesprekID,
		}},
		"responses": merge(map[string]any{
			"200": map[string]any{
				"description": "De status van het gesprek.",
				"headers":     intakeapi.ResponseHeaders(),
				"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
					"type":                 "object",
					"required":             []string{"gesprekId", "klantcontact", "status"},
					"additionalProperties": false,
					"properties": map[string]any{
						"gesprekId":    str("De gesprekId van de leverancier."),
						"klantcontact": klantcontact,
						"status":       map[string]any{"type": "string", "enum": []string{"aanvaard", "verwerkt", "mislukt"}},
						"reden":        str("Bij mislukt: de redencode van contract §8 (unparseable, invalid, too_large, unreadable, rejected, panic)."),
					},
				}}},
			},
		}, intakeapi.ProblemResponses(401, 403, 404, 429, 500, 503)),
	}
	return intakeapi.Part{
		Paths:   map[string]any{"/gesprekken": map[string]any{"post": post}, "/gesprekken/{gesprekId}": map[string]any{"get": get}},
		Schemas: map[string]json.RawMessage{"Gesprek": componentSchema(schemaJSON, "Gesprek")},
	}
}

func merge(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// componentSchema returns a JSON Schema document for use as components.schemas.<name>:
// its "#/$defs/" references rewritten to point into the component.
func componentSchema(schema []byte, name string) json.RawMessage {
	return json.RawMessage(bytes.ReplaceAll(schema, []byte(`"#/$defs/`), []byte(`"#/components/schemas/`+name+`/$defs/`)))
}
