package brief

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/instroom/instroom/ingest/intakeapi"
)

// schemaJSON is contracts/brief.schema.json, unchanged (a test compares their hashes).
//
//go:embed brief.schema.json
var schemaJSON []byte

const schemaURL = "https://instroom.example/schemas/brief.schema.json"

// Sidecar is one letter's metadata sidecar (brief.schema.json), as the scanning street
// delivers it beside the scan or in the metadata part of POST /v1/brieven.
type Sidecar struct {
	ScanID        string            `json:"scanId"`
	GescandOp     string            `json:"gescandOp"`
	Bestand       string            `json:"bestand"`
	Afzender      *Afzender         `json:"afzender,omitempty"`
	Onderwerp     string            `json:"onderwerp,omitempty"`
	Documenttype  string            `json:"documenttype,omitempty"`
	Paginas       *int              `json:"paginas,omitempty"`
	Vertrouwelijk bool              `json:"vertrouwelijk,omitempty"`
	Zaaknummer    string            `json:"zaaknummer,omitempty"`
	Taal          string            `json:"taal,omitempty"`
	OCRTekst      *string           `json:"ocrTekst,omitempty"` // present (even empty): no OCR of our own
	Kenmerken     map[string]string `json:"kenmerken,omitempty"`
}

// Afzender is the sender of a letter as the scanning street read it.
type Afzender struct {
	Naam                  string                `json:"naam,omitempty"`
	Voorletters           string                `json:"voorletters,omitempty"`
	Voornaam              string                `json:"voornaam,omitempty"`
	VoorvoegselAchternaam string                `json:"voorvoegselAchternaam,omitempty"`
	Achternaam            string                `json:"achternaam,omitempty"`
	Organisatie           string                `json:"organisatie,omitempty"`
	Correspondentieadres  *Correspondentieadres `json:"correspondentieadres,omitempty"`
	Emailadres            string                `json:"emailadres,omitempty"`
	Telefoonnummer        string                `json:"telefoonnummer,omitempty"`
}

// Correspondentieadres is the sender's postal address as the scanning street read it.
type Correspondentieadres struct {
	Straat               string `json:"straat,omitempty"`
	Huisnummer           *int   `json:"huisnummer,omitempty"`
	Huisnummertoevoeging string `json:"huisnummertoevoeging,omitempty"`
	Postcode             string `json:"postcode,omitempty"`
	Woonplaats           string `json:"woonplaats,omitempty"`
	Land                 string `json:"land,omitempty"`
	Adresregel1          string `json:"adresregel1,omitempty"`
	Adresregel2          string `json:"adresregel2,omitempty"`
	Adresregel3          string `json:"adresregel3,omitempty"`
}

// UnmarshalJSON accepts huisnummer as any JSON number the schema calls an integer (14,
// 14.0, 1.4e1).
func (a *Correspondentieadres) UnmarshalJSON(b []byte) error {
	type plain Correspondentieadres
	var v struct {
		plain
		Huisnummer json.Number `json:"huisnummer"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*a = Correspondentieadres(v.plain)
	n, err := wholeNumber(v.Huisnummer)
	a.Huisnummer = n
	return err
}

// UnmarshalJSON accepts paginas as any JSON number the schema calls an integer.
func (s *Sidecar) UnmarshalJSON(b []byte) error {
	type plain Sidecar
	var v struct {
		plain
		Paginas json.Number `json:"paginas"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Sidecar(v.plain)
	n, err := wholeNumber(v.Paginas)
	s.Paginas = n
	return err
}

func wholeNumber(n json.Number) (*int, error) {
	if n == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f != float64(int(f)) {
		return nil, errors.New("not a whole number")
	}
	i := int(f)
	return &i, nil
}

// decodeSidecar checks a sidecar against brief.schema.json and decodes it. On failure it
// returns every problem found (never just the first), each named by a JSON Pointer, with
// the failing keyword as code (json when b is not UTF-8 JSON) and a Dutch reason that
// never repeats a submitted value. A leading UTF-8 byte order mark is ignored.
func decodeSidecar(b []byte) (*Sidecar, []intakeapi.InvalidParam) {
	if probs := sidecarSchema.Check(b); len(probs) > 0 {
		return nil, probs
	}
	var sc Sidecar
	if err := json.Unmarshal(bytes.TrimPrefix(b, []byte("\uFEFF")), &sc); err != nil {
		return nil, []intakeapi.InvalidParam{{Name: "", Code: "type", Reason: "Het document past niet in het schema."}}
	}
	return &sc, nil
}

// sidecarSchema is brief.schema.json, compiled on first use.
var sidecarSchema = intakeapi.NewSchema(schemaURL, schemaJSON)

// problemSummary names the problems by pointer and code only, for reason files.
func problemSummary(ps []intakeapi.InvalidParam) string { return intakeapi.ProblemSummary(ps) }
