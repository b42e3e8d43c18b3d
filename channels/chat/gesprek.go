package chat

import (
	"bytes"
	_ "embed"
	"encoding/json"

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

// decodeGesprek checks a transcript against gesprek.schema.json and decodes it. On failure
// it returns every problem found, each named by a JSON Pointer, with the failing keyword as
// code (json when b is not UTF-8 JSON) and a Dutch reason that never repeats a value.
func decodeGesprek(b []byte) (*Gesprek, []intakeapi.InvalidParam) {
	if probs := gesprekSchema.Check(b); len(probs) > 0 {
		return nil, probs
	}
	var g Gesprek
	if err := json.Unmarshal(bytes.TrimPrefix(b, []byte("\uFEFF")), &g); err != nil {
		return nil, []intakeapi.InvalidParam{{Name: "", Code: "type", Reason: "Het document past niet in het schema."}}
	}
	return &g, nil
}

// gesprekSchema is gesprek.schema.json, compiled on first use.
var gesprekSchema = intakeapi.NewSchema(schemaURL, schemaJSON)

// problemSummary names the problems by pointer and code only, for reason files.
func problemSummary(ps []intakeapi.InvalidParam) string { return intakeapi.ProblemSummary(ps) }
