package chat

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/instroom/instroom/ingest/intakeapi"
)

// schemaJSON is contracts/gesprek.schema.json, unchanged (a test compares their hashes).
//
//go:embed gesprek.schema.json
var schemaJSON []byte

const schemaURL = "https://instroom.example/schemas/gesprek.schema.json"

// Gesprek is one finished conversation (gesprek.schema.json), as a vendor drops it or
// posts it to POST /v1/gesprekken.
type Gesprek struct {
	GesprekID   string            `json:"gesprekId"`
	Kanaal      string            `json:"kanaal"`
	Leverancier string            `json:"leverancier,omitempty"`
	GestartOp   string            `json:"gestartOp,omitempty"`
	BeeindigdOp string            `json:"beeindigdOp,omitempty"`
	Klant       *Klant            `json:"klant,omitempty"`
	Onderwerp   string            `json:"onderwerp,omitempty"`
	Intentie    string            `json:"intentie,omitempty"`
	Taal        string            `json:"taal,omitempty"`
	Berichten   []Bericht         `json:"berichten"`
	Uitkomst    Uitkomst          `json:"uitkomst"`
	Kenmerken   map[string]string `json:"kenmerken,omitempty"`
}

// Klant is the customer as far as the conversation revealed.
type Klant struct {
	Naam            string `json:"naam,omitempty"`
	Emailadres      string `json:"emailadres,omitempty"`
	Telefoonnummer  string `json:"telefoonnummer,omitempty"`
	Geauthenticeerd string `json:"geauthenticeerd,omitempty"`
	PartijID        string `json:"partijId,omitempty"`
}

// Bericht is one message of the conversation.
type Bericht struct {
	Van        string      `json:"van"` // klant, bot or medewerker
	Tijdstip   string      `json:"tijdstip"`
	Tekst      string      `json:"tekst,omitempty"`
	Medewerker *Medewerker `json:"medewerker,omitempty"`
	Bijlagen   []Bijlage   `json:"bijlagen,omitempty"`
}

// Medewerker is an employee of the municipality.
type Medewerker struct {
	Naam          string `json:"naam,omitempty"`
	Identificatie string `json:"identificatie,omitempty"`
}

// Bijlage is one file of a message: inline (Inhoud, base64) or by URL.
type Bijlage struct {
	Bestandsnaam string `json:"bestandsnaam"`
	MediaType    string `json:"mediaType"`
	Inhoud       string `json:"inhoud,omitempty"`
	URL          string `json:"url,omitempty"`
}

// Uitkomst is how the conversation ended.
type Uitkomst struct {
	Soort          string      `json:"soort"`
	Medewerker     *Medewerker `json:"medewerker,omitempty"`
	Telefoonnummer string      `json:"telefoonnummer,omitempty"`
	Voorkeurstijd  string      `json:"voorkeurstijd,omitempty"`
	Toelichting    string      `json:"toelichting,omitempty"`
	Formulier      string      `json:"formulier,omitempty"`
	Referentie     string      `json:"referentie,omitempty"`
	Tevreden       *bool       `json:"tevreden,omitempty"`
}

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// gesprekSchema compiles the embedded schema once; format assertions are on (date-time,
// uuid, uri).
func gesprekSchema() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
		if err != nil {
			schemaErr = fmt.Errorf("reading gesprek schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		if err := c.AddResource(schemaURL, doc); err != nil {
			schemaErr = fmt.Errorf("adding gesprek schema: %w", err)
			return
		}
		schema, schemaErr = c.Compile(schemaURL)
	})
	return schema, schemaErr
}

// decodeGesprek checks a transcript against gesprek.schema.json and decodes it. On
// failure it returns every problem found (never just the first), each named by a JSON
// Pointer, with the failing keyword as code (json when b is not UTF-8 JSON) and a Dutch
// reason that never repeats a submitted value. A leading UTF-8 byte order mark is
// ignored. It is safe for concurrent use (the intake API calls it too).
func decodeGesprek(b []byte) (*Gesprek, []intakeapi.InvalidParam) {
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	notJSON := []intakeapi.InvalidParam{{Name: "", Code: "json", Reason: "Geen geldige UTF-8 JSON."}}
	if !utf8.Valid(b) {
		return nil, notJSON
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, notJSON
	}
	sch, err := gesprekSchema()
	if err != nil {
		// The embedded schema is tested; this cannot happen in a build that passed.
		return nil, []intakeapi.InvalidParam{{Name: "", Code: "schema", Reason: "Het schema kon niet worden geladen."}}
	}
	if err := sch.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return nil, []intakeapi.InvalidParam{{Name: "", Code: "schema", Reason: "Het document kon niet worden gecontroleerd."}}
		}
		return nil, problems(ve)
	}
	var g Gesprek
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, []intakeapi.InvalidParam{{Name: "", Code: "type", Reason: "Het document past niet in het schema."}}
	}
	return &g, nil
}
