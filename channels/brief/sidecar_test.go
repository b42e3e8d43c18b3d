package brief

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/intakeapi"
)

// contractDir is the shared contracts directory beside the repository, when present.
const contractDir = "../../../shared/contracts"

func TestEmbeddedSchemaIsTheContract(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(contractDir, "brief.schema.json"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("contracts/brief.schema.json is not beside the repository")
	}
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(schemaJSON) != sha256.Sum256(want) {
		t.Errorf("channels/brief/brief.schema.json differs from %s/brief.schema.json; copy it again", contractDir)
	}
	if probs := sidecarSchema.Check([]byte(`{}`)); len(probs) == 0 || probs[0].Code == "schema" {
		t.Fatalf("sidecarSchema.Check({}) = %v, want the missing members (the schema compiles)", probs)
	}
}

// exampleSidecars are the contract's examples: the copies in testdata, and the originals
// when they are beside the repository.
func exampleSidecars(t *testing.T) []string {
	files, _ := filepath.Glob("testdata/brief-*.json")
	orig, _ := filepath.Glob(filepath.Join(contractDir, "examples", "brief-*.json"))
	var out []string
	for _, f := range append(files, orig...) {
		if !strings.HasSuffix(f, ".golden.json") {
			out = append(out, f)
		}
	}
	if len(out) < 2 {
		t.Fatalf("found %d example sidecars, want at least the 2 of the contract", len(out))
	}
	return out
}

func TestExamplesValidate(t *testing.T) {
	for _, f := range exampleSidecars(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc, probs := decodeSidecar(b)
		if probs != nil || sc == nil {
			t.Errorf("decodeSidecar(%s) = %v, want no problems", f, probs)
		}
	}
}

func TestDecodeSidecarFields(t *testing.T) {
	b, err := os.ReadFile("testdata/brief-bezwaar-zaak.json")
	if err != nil {
		t.Fatal(err)
	}
	sc, probs := decodeSidecar(b)
	if probs != nil {
		t.Fatal(probs)
	}
	if sc.ScanID != "SCAN-20240318-000457" || sc.Bestand != "SCAN-20240318-000457.tiff" || !sc.Vertrouwelijk ||
		sc.Paginas == nil || *sc.Paginas != 3 || sc.Afzender == nil || sc.Afzender.Correspondentieadres == nil ||
		sc.Afzender.Correspondentieadres.Huisnummer == nil || *sc.Afzender.Correspondentieadres.Huisnummer != 14 ||
		sc.Kenmerken["batch"] != "2024-03-18-B" || sc.OCRTekst != nil {
		t.Errorf("decodeSidecar(brief-bezwaar-zaak.json) = %+v", sc)
	}
	// An integer written as 14.0 is an integer to JSON Schema, and decodes as one.
	sc, probs = decodeSidecar([]byte(`{"scanId":"S1","gescandOp":"2024-03-12T09:41:17Z","bestand":"s.pdf","paginas":2.0,"ocrTekst":""}`))
	if probs != nil || *sc.Paginas != 2 || sc.OCRTekst == nil || *sc.OCRTekst != "" {
		t.Errorf("decodeSidecar(paginas 2.0, ocrTekst \"\") = %+v, %v", sc, probs)
	}
	// A byte order mark is tolerated.
	if _, probs := decodeSidecar(append([]byte("\uFEFF"), b...)); probs != nil {
		t.Errorf("decodeSidecar(BOM + example) = %v, want none", probs)
	}
}

const base = `"scanId":"S1","gescandOp":"2024-03-12T09:41:17+01:00","bestand":"s.pdf"`

func TestSidecarProblems(t *testing.T) {
	p := func(name, code string) intakeapi.InvalidParam { return intakeapi.InvalidParam{Name: name, Code: code} }
	cases := []struct {
		name string
		doc  string
		want []intakeapi.InvalidParam
	}{
		{"not JSON", `{"scanId":`, []intakeapi.InvalidParam{p("", "json")}},
		{"empty", ``, []intakeapi.InvalidParam{p("", "json")}},
		{"trailing data", `{` + base + `} {}`, []intakeapi.InvalidParam{p("", "json")}},
		{"not UTF-8", "{" + base + `,"onderwerp":"caf` + "\xe9" + `"}`, []intakeapi.InvalidParam{p("", "json")}},
		{"not an object", `["S1"]`, []intakeapi.InvalidParam{p("", "type")}},
		{"required", `{"scanId":"S1"}`, []intakeapi.InvalidParam{p("/bestand", "required"), p("/gescandOp", "required")}},
		{"additionalProperties", `{` + base + `,"kleur":"rood"}`, []intakeapi.InvalidParam{p("/kleur", "additionalProperties")}},
		{"nested additionalProperties", `{` + base + `,"afzender":{"naam":"X","bsn":"1"}}`, []intakeapi.InvalidParam{p("/afzender/bsn", "additionalProperties")}},
		{"escaped pointer", `{` + base + `,"a/b~c":1}`, []intakeapi.InvalidParam{p("/a~1b~0c", "additionalProperties")}},
		{"type", `{` + base + `,"vertrouwelijk":"ja"}`, []intakeapi.InvalidParam{p("/vertrouwelijk", "type")}},
		{"type integer", `{` + base + `,"paginas":1.5}`, []intakeapi.InvalidParam{p("/paginas", "type")}},
		{"pattern", `{"scanId":".verborgen","gescandOp":"2024-03-12T09:41:17Z","bestand":"s.pdf"}`, []intakeapi.InvalidParam{p("/scanId", "pattern")}},
		{"pattern bestand", `{"scanId":"S1","gescandOp":"2024-03-12T09:41:17Z","bestand":"../etc/passwd"}`, []intakeapi.InvalidParam{p("/bestand", "pattern")}},
		{"format", `{"scanId":"S1","gescandOp":"2024-02-30T09:41:17Z","bestand":"s.pdf"}`, []intakeapi.InvalidParam{p("/gescandOp", "format")}},
		{"format and pattern once", `{"scanId":"S1","gescandOp":"12 maart 2024","bestand":"s.pdf"}`, []intakeapi.InvalidParam{p("/gescandOp", "format")}},
		{"minLength", `{` + base + `,"onderwerp":""}`, []intakeapi.InvalidParam{p("/onderwerp", "minLength")}},
		{"maxLength", `{` + base + `,"documenttype":"` + strings.Repeat("x", 81) + `"}`, []intakeapi.InvalidParam{p("/documenttype", "maxLength")}},
		{"minimum", `{` + base + `,"paginas":0}`, []intakeapi.InvalidParam{p("/paginas", "minimum")}},
		{"maximum", `{` + base + `,"afzender":{"correspondentieadres":{"huisnummer":100000}}}`, []intakeapi.InvalidParam{p("/afzender/correspondentieadres/huisnummer", "maximum")}},
		{"minProperties", `{` + base + `,"afzender":{}}`, []intakeapi.InvalidParam{p("/afzender", "minProperties")}},
		{"maxProperties", `{` + base + `,"kenmerken":{` + manyKeys(21) + `}}`, []intakeapi.InvalidParam{p("/kenmerken", "maxProperties")}},
		{"propertyNames", `{` + base + `,"kenmerken":{"met spatie":"x"}}`, []intakeapi.InvalidParam{p("/kenmerken/met spatie", "propertyNames")}},
		{"kenmerk value type", `{` + base + `,"kenmerken":{"k":1}}`, []intakeapi.InvalidParam{p("/kenmerken/k", "type")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc, got := decodeSidecar([]byte(tc.doc))
			if sc != nil {
				t.Errorf("decodeSidecar(%s) returned a sidecar", tc.name)
			}
			if !reflect.DeepEqual(namesCodes(got), tc.want) {
				t.Errorf("decodeSidecar(%s) = %v, want %v", tc.name, namesCodes(got), tc.want)
			}
			for _, g := range got {
				if g.Reason == "" {
					t.Errorf("decodeSidecar(%s): %s/%s has no reason", tc.name, g.Name, g.Code)
				}
			}
		})
	}
}

func manyKeys(n int) string {
	var k []string
	for i := range n {
		k = append(k, `"k`+string(rune('a'+i))+`":"v"`)
	}
	return strings.Join(k, ",")
}

func namesCodes(ps []intakeapi.InvalidParam) []intakeapi.InvalidParam {
	var out []intakeapi.InvalidParam
	for _, p := range ps {
		out = append(out, intakeapi.InvalidParam{Name: p.Name, Code: p.Code})
	}
	return out
}

// TestSidecarAllProblems checks that every problem of a document is listed at once, and
// that no reason repeats a submitted value.
func TestSidecarAllProblems(t *testing.T) {
	doc := `{"scanId":"Jansen 123456782","gescandOp":"gisteren-geheim","kleur":"geheimrood",
	  "afzender":{"naam":"","telefoonnummer":"` + strings.Repeat("9", 51) + `","correspondentieadres":{"land":"nl","huisnummer":0}},
	  "taal":"NLD","zaaknummer":"ZAAK 1","vertrouwelijk":1,"kenmerken":{"ok":"` + strings.Repeat("g", 256) + `"}}`
	got, probs := decodeSidecar([]byte(doc))
	if got != nil {
		t.Fatal("decodeSidecar returned a sidecar for an invalid document")
	}
	want := []intakeapi.InvalidParam{
		{Name: "/afzender/correspondentieadres/huisnummer", Code: "minimum"},
		{Name: "/afzender/correspondentieadres/land", Code: "pattern"},
		{Name: "/afzender/naam", Code: "minLength"},
		{Name: "/afzender/telefoonnummer", Code: "maxLength"},
		{Name: "/bestand", Code: "required"},
		{Name: "/gescandOp", Code: "format"},
		{Name: "/kenmerken/ok", Code: "maxLength"},
		{Name: "/kleur", Code: "additionalProperties"},
		{Name: "/scanId", Code: "pattern"},
		{Name: "/taal", Code: "pattern"},
		{Name: "/vertrouwelijk", Code: "type"},
		{Name: "/zaaknummer", Code: "pattern"},
	}
	if !reflect.DeepEqual(namesCodes(probs), want) {
		t.Errorf("decodeSidecar(many problems) =\n%v\nwant\n%v", namesCodes(probs), want)
	}
	for _, p := range probs {
		for _, secret := range []string{"Jansen", "123456782", "gisteren", "geheim", "NLD", "ZAAK 1", "999", "ggg"} {
			if strings.Contains(p.Reason, secret) {
				t.Errorf("reason %q of %s repeats a submitted value", p.Reason, p.Name)
			}
		}
	}
	// The permanent error names pointers and codes, never values.
	err := sidecarError(probs)
	if ingest.ReasonOf(err) != ingest.ReasonInvalid {
		t.Errorf("ReasonOf(sidecarError) = %q, want invalid", ingest.ReasonOf(err))
	}
	for _, secret := range []string{"Jansen", "gisteren", "geheimrood"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("sidecarError = %q repeats a submitted value", err)
		}
	}
	if ingest.ReasonOf(sidecarError([]intakeapi.InvalidParam{{Code: "json"}})) != ingest.ReasonUnparseable {
		t.Error("a sidecar that is not JSON must fail as unparseable")
	}
}

func TestDecodeSidecarDutchReasons(t *testing.T) {
	_, probs := decodeSidecar([]byte(`{"scanId":"S1","gescandOp":"x","bestand":"s.pdf","kleur":1}`))
	want := map[string]string{"/gescandOp": "Geen RFC 3339 date-time met offset.", "/kleur": "Onbekend veld."}
	for _, p := range probs {
		if w, ok := want[p.Name]; ok && p.Reason != w {
			t.Errorf("reason of %s = %q, want %q", p.Name, p.Reason, w)
		}
	}
	if !bytes.Contains(schemaJSON, []byte(`"$schema": "https://json-schema.org/draft/2020-12/schema"`)) {
		t.Error("the embedded schema is not draft 2020-12")
	}
}

// TestPropertyNamesPointer: the propertyNames problem names the right object even when
// other members are validated after it.
func TestPropertyNamesPointer(t *testing.T) {
	for range 50 {
		_, probs := decodeSidecar([]byte(`{"kenmerken":{"met spatie":"x"},"scanId":"S1","gescandOp":"2024-03-12T09:41:17Z","bestand":"s.pdf","taal":"nld","documenttype":"brief","onderwerp":"o"}`))
		if len(probs) != 1 || probs[0].Name != "/kenmerken/met spatie" {
			t.Fatalf("decodeSidecar(bad kenmerk name) = %v, want /kenmerken/met spatie propertyNames", probs)
		}
	}
}
