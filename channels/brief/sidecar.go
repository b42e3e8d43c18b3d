package brief

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

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

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// sidecarSchema compiles the embedded schema once; format assertions are on (date-time).
func sidecarSchema() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
		if err != nil {
			schemaErr = fmt.Errorf("reading brief schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		if err := c.AddResource(schemaURL, doc); err != nil {
			schemaErr = fmt.Errorf("adding brief schema: %w", err)
			return
		}
		schema, schemaErr = c.Compile(schemaURL)
	})
	return schema, schemaErr
}

// decodeSidecar checks a sidecar against brief.schema.json and decodes it. On failure it
// returns every problem found (never just the first), each named by a JSON Pointer, with
// the failing keyword as code (json when b is not UTF-8 JSON) and a Dutch reason that
// never repeats a submitted value. A leading UTF-8 byte order mark is ignored.
func decodeSidecar(b []byte) (*Sidecar, []intakeapi.InvalidParam) {
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	notJSON := []intakeapi.InvalidParam{{Name: "", Code: "json", Reason: "Geen geldige UTF-8 JSON."}}
	if !utf8.Valid(b) {
		return nil, notJSON
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, notJSON
	}
	sch, err := sidecarSchema()
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
	var sc Sidecar
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, []intakeapi.InvalidParam{{Name: "", Code: "type", Reason: "Het document past niet in het schema."}}
	}
	return &sc, nil
}

// problems flattens a validation error tree into its leaf problems, sorted by name and
// code, one per name and code. A value that fails both the format and the pattern of a
// field (gescandOp restates date-time as a pattern) is reported once, as format.
func problems(ve *jsonschema.ValidationError) []intakeapi.InvalidParam {
	var out []intakeapi.InvalidParam
	collect(ve, &out)
	format := map[string]bool{}
	for _, p := range out {
		if p.Code == "format" {
			format[p.Name] = true
		}
	}
	seen := map[[2]string]bool{}
	var list []intakeapi.InvalidParam
	for _, p := range out {
		k := [2]string{p.Name, p.Code}
		if seen[k] || (p.Code == "pattern" && format[p.Name]) {
			continue
		}
		seen[k] = true
		list = append(list, p)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Name != list[j].Name {
			return list[i].Name < list[j].Name
		}
		return list[i].Code < list[j].Code
	})
	return list
}

func collect(ve *jsonschema.ValidationError, out *[]intakeapi.InvalidParam) {
	at := pointer(ve.InstanceLocation)
	switch k := ve.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.AllOf, *kind.Reference:
		for _, c := range ve.Causes {
			collect(c, out)
		}
		return
	case *kind.Required:
		for _, m := range k.Missing {
			*out = append(*out, intakeapi.InvalidParam{Name: at + "/" + escape(m), Code: "required", Reason: "Het veld ontbreekt."})
		}
		return
	case *kind.AdditionalProperties:
		for _, m := range k.Properties {
			*out = append(*out, intakeapi.InvalidParam{Name: at + "/" + escape(m), Code: "additionalProperties", Reason: "Onbekend veld."})
		}
		return
	case *kind.PropertyNames:
		if p, ok := objectPointer(ve.SchemaURL, "propertyNames"); ok {
			at = p
		}
		*out = append(*out, intakeapi.InvalidParam{Name: at + "/" + escape(k.Property), Code: "propertyNames", Reason: "Ongeldige veldnaam."})
		return
	}
	if len(ve.Causes) > 0 && !isCombinator(ve.ErrorKind) {
		for _, c := range ve.Causes {
			collect(c, out)
		}
		return
	}
	code := "schema"
	if kp := ve.ErrorKind.KeywordPath(); len(kp) > 0 {
		code = kp[0]
	}
	*out = append(*out, intakeapi.InvalidParam{Name: at, Code: code, Reason: reason(ve.ErrorKind)})
}

func isCombinator(k jsonschema.ErrorKind) bool {
	switch k.(type) {
	case *kind.AnyOf, *kind.OneOf, *kind.Not:
		return true
	}
	return false
}

// reason is the Dutch reason of one problem. It names what the schema wants, never what
// was sent.
func reason(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return "Verkeerd type; verwacht: " + typeNames(k.Want) + "."
	case *kind.Format:
		if k.Want == "date-time" {
			return "Geen RFC 3339 date-time met offset."
		}
		return "Ongeldig formaat (" + k.Want + ")."
	case *kind.Pattern:
		return "Voldoet niet aan het voorgeschreven patroon."
	case *kind.MinLength:
		return fmt.Sprintf("Te kort; minstens %d tekens.", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("Te lang; hoogstens %d tekens.", k.Want)
	case *kind.Minimum:
		return "Te klein; minstens " + k.Want.RatString() + "."
	case *kind.Maximum:
		return "Te groot; hoogstens " + k.Want.RatString() + "."
	case *kind.MinProperties:
		return fmt.Sprintf("Te weinig velden; minstens %d.", k.Want)
	case *kind.MaxProperties:
		return fmt.Sprintf("Te veel velden; hoogstens %d.", k.Want)
	case *kind.Enum, *kind.Const:
		return "Geen toegestane waarde."
	case *kind.AnyOf, *kind.OneOf, *kind.Not:
		return "Past niet bij de toegestane vormen."
	}
	return "Ongeldige waarde."
}

var dutchTypes = map[string]string{
	"string": "tekst", "integer": "geheel getal", "number": "getal", "boolean": "true of false",
	"object": "object", "array": "lijst", "null": "null",
}

func typeNames(want []string) string {
	var n []string
	for _, w := range want {
		if d, ok := dutchTypes[w]; ok {
			n = append(n, d)
		}
	}
	return strings.Join(n, " of ")
}

// objectPointer derives the instance pointer of the object whose keyword kw failed from
// the keyword's schema location ("…#/properties/kenmerken/propertyNames" → "/kenmerken").
// jsonschema v6.0.3 hands propertyNames errors an instance location that later siblings
// overwrite (it does not clone it), so that one cannot be trusted. It works for schemas
// that nest objects through properties only, as brief.schema.json does.
func objectPointer(schemaURL, kw string) (string, bool) {
	_, frag, ok := strings.Cut(schemaURL, "#")
	if !ok {
		return "", false
	}
	toks := strings.Split(strings.TrimPrefix(frag, "/"), "/")
	if frag == "" || len(toks)%2 != 1 || toks[len(toks)-1] != kw {
		return "", false
	}
	var b strings.Builder
	for i := 0; i+1 < len(toks); i += 2 {
		if toks[i] != "properties" {
			return "", false
		}
		b.WriteString("/" + toks[i+1]) // already escaped as a JSON Pointer token
	}
	return b.String(), true
}

// pointer renders an instance location as a JSON Pointer (RFC 6901).
func pointer(loc []string) string {
	var b strings.Builder
	for _, t := range loc {
		b.WriteByte('/')
		b.WriteString(escape(t))
	}
	return b.String()
}

func escape(t string) string {
	return strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
}

// problemSummary names the problems by pointer and code only, for reason files and
// errors (no reasons, no values).
func problemSummary(ps []intakeapi.InvalidParam) string {
	var parts []string
	for i, p := range ps {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ps)-i))
			break
		}
		name := p.Name
		if name == "" {
			name = "(document)"
		}
		parts = append(parts, name+" "+p.Code)
	}
	return strings.Join(parts, "; ")
}
