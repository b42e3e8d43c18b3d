package chat

// Schema problems as intakeapi.InvalidParams. This is a copy of channels/brief/sidecar.go's
// helpers (channels do not import each other); it could move to ingest/intakeapi as
// intakeapi.Problems(*jsonschema.ValidationError) once both channels use it.

import (
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/instroom/instroom/ingest/intakeapi"
)

// problems flattens a validation error tree into its leaf problems, sorted by name and
// code, one per name and code. A value that fails both the format and the pattern of a
// field (tijdstip restates date-time as a pattern) is reported once, as format.
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
// that nest objects through properties only, as gesprek.schema.json does for kenmerken.
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
