package intakeapi

// JSON Schema problems as InvalidParams (contract §6), shared by every channel whose
// payload has a schema (brief.schema.json, gesprek.schema.json).

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Schema is a JSON Schema (draft 2020-12, format assertions on) compiled once, on first use.
type Schema struct {
	url  string
	doc  []byte
	once sync.Once
	s    *jsonschema.Schema
	err  error
}

// NewSchema returns the schema doc, known under url (its $id). It does no work yet.
func NewSchema(url string, doc []byte) *Schema { return &Schema{url: url, doc: doc} }

func (s *Schema) compile() (*jsonschema.Schema, error) {
	s.once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(s.doc))
		if err != nil {
			s.err = fmt.Errorf("reading schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		if err := c.AddResource(s.url, doc); err != nil {
			s.err = fmt.Errorf("adding schema: %w", err)
			return
		}
		s.s, s.err = c.Compile(s.url)
	})
	return s.s, s.err
}

// Check checks a JSON document against the schema and returns every problem found (never
// just the first), each named by a JSON Pointer, with the failing keyword as code (json
// when b is not UTF-8 JSON) and a Dutch reason that never repeats a submitted value. A
// leading UTF-8 byte order mark is ignored. No problems: the document is valid.
func (s *Schema) Check(b []byte) []InvalidParam {
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	notJSON := []InvalidParam{{Name: "", Code: "json", Reason: "Geen geldige UTF-8 JSON."}}
	if !utf8.Valid(b) {
		return notJSON
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return notJSON
	}
	sch, err := s.compile()
	if err != nil {
		// The embedded schemas are tested; this cannot happen in a build that passed.
		return []InvalidParam{{Name: "", Code: "schema", Reason: "Het schema kon niet worden geladen."}}
	}
	if err := sch.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return []InvalidParam{{Name: "", Code: "schema", Reason: "Het document kon niet worden gecontroleerd."}}
		}
		return Problems(ve)
	}
	return nil
}

// Problems flattens a validation error tree into its leaf problems, sorted by name and
// code, one per name and code. A value that fails both the format and the pattern of a
// field (a schema that restates date-time as a pattern) is reported once, as format.
func Problems(ve *jsonschema.ValidationError) []InvalidParam {
	var out []InvalidParam
	collect(ve, &out)
	format := map[string]bool{}
	for _, p := range out {
		if p.Code == "format" {
			format[p.Name] = true
		}
	}
	seen := map[[2]string]bool{}
	var list []InvalidParam
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

func collect(ve *jsonschema.ValidationError, out *[]InvalidParam) {
	at := pointer(ve.InstanceLocation)
	switch k := ve.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.AllOf, *kind.Reference:
		for _, c := range ve.Causes {
			collect(c, out)
		}
		return
	case *kind.Required:
		for _, m := range k.Missing {
			*out = append(*out, InvalidParam{Name: at + "/" + escape(m), Code: "required", Reason: "Het veld ontbreekt."})
		}
		return
	case *kind.AdditionalProperties:
		for _, m := range k.Properties {
			*out = append(*out, InvalidParam{Name: at + "/" + escape(m), Code: "additionalProperties", Reason: "Onbekend veld."})
		}
		return
	case *kind.PropertyNames:
		if p, ok := objectPointer(ve.SchemaURL, "propertyNames"); ok {
			at = p
		}
		*out = append(*out, InvalidParam{Name: at + "/" + escape(k.Property), Code: "propertyNames", Reason: "Ongeldige veldnaam."})
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
	*out = append(*out, InvalidParam{Name: at, Code: code, Reason: reason(ve.ErrorKind)})
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
// that nest objects through properties only, as the intake schemas do.
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

// ProblemSummary names the problems by pointer and code only, for reason files and
// errors (no reasons, no values). An unknown or invalid property name is the sender's
// content, not the schema's: it is named by the object that holds it.
func ProblemSummary(ps []InvalidParam) string {
	var parts []string
	for i, p := range ps {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ps)-i))
			break
		}
		name := p.Name
		if p.Code == "additionalProperties" || p.Code == "propertyNames" {
			name = name[:max(strings.LastIndexByte(name, '/'), 0)]
		}
		if name == "" {
			name = "(document)"
		}
		if part := name + " " + p.Code; len(parts) == 0 || parts[len(parts)-1] != part {
			parts = append(parts, part)
		}
	}
	return strings.Join(parts, "; ")
}
