package chat

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/instroom/instroom/ingest/intakeapi"
)

// contractDir is the shared contracts directory beside the repository, when present.
const contractDir = "../../../shared/contracts"

func TestEmbeddedSchemaIsTheContract(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(contractDir, "gesprek.schema.json"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("contracts/gesprek.schema.json is not beside the repository")
	}
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(schemaJSON) != sha256.Sum256(want) {
		t.Errorf("channels/chat/gesprek.schema.json differs from %s/gesprek.schema.json; copy it again", contractDir)
	}
	if probs := gesprekSchema.Check([]byte(`{}`)); len(probs) == 0 || probs[0].Code == "schema" {
		t.Fatalf("gesprekSchema.Check({}) = %v, want the missing members (the schema compiles)", probs)
	}
}

// TestExamplesValidate: the contract's examples (the copies in testdata, and the
// originals when beside the repository) pass, and the copies are unchanged.
func TestExamplesValidate(t *testing.T) {
	files, _ := filepath.Glob("testdata/gesprek-*.json")
	orig, _ := filepath.Glob(filepath.Join(contractDir, "examples", "gesprek-*.json"))
	n := 0
	for _, f := range append(files, orig...) {
		if strings.HasSuffix(f, ".golden.json") {
			continue
		}
		n++
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if g, probs := decodeGesprek(b); probs != nil || g == nil {
			t.Errorf("decodeGesprek(%s) = %v, want no problems", f, probs)
		}
		if o, err := os.ReadFile(filepath.Join(contractDir, "examples", filepath.Base(f))); err == nil && string(o) != string(b) {
			t.Errorf("%s differs from the contract's example", f)
		}
	}
	if n < 5 {
		t.Fatalf("found %d example transcripts, want at least the 5 of the contract", n)
	}
}

const base = `"gesprekId":"g1","kanaal":"chat","uitkomst":{"soort":"beantwoord"}`
const oneMsg = `"berichten":[{"van":"klant","tijdstip":"2024-05-01T10:00:00Z","tekst":"x"}]`

func TestGesprekProblems(t *testing.T) {
	p := func(name, code string) intakeapi.InvalidParam { return intakeapi.InvalidParam{Name: name, Code: code} }
	cases := []struct {
		name string
		doc  string
		want []intakeapi.InvalidParam
	}{
		{"not JSON", `{"gesprekId":`, []intakeapi.InvalidParam{p("", "json")}},
		{"empty", ``, []intakeapi.InvalidParam{p("", "json")}},
		{"trailing data", `{` + base + `,` + oneMsg + `} {}`, []intakeapi.InvalidParam{p("", "json")}},
		{"not an object", `[1]`, []intakeapi.InvalidParam{p("", "type")}},
		{"required", `{"kanaal":"chat"}`, []intakeapi.InvalidParam{p("/berichten", "required"), p("/gesprekId", "required"), p("/uitkomst", "required")}},
		{"zero messages", `{` + base + `,"berichten":[]}`, []intakeapi.InvalidParam{p("/berichten", "minItems")}},
		{"leading dot", `{"gesprekId":".g","kanaal":"chat","uitkomst":{"soort":"beantwoord"},` + oneMsg + `}`, []intakeapi.InvalidParam{p("/gesprekId", "pattern")}},
		{"message without text or attachment", `{` + base + `,"berichten":[{"van":"bot","tijdstip":"2024-05-01T10:00:00Z"}]}`, []intakeapi.InvalidParam{p("/berichten/0", "anyOf")}},
		{"bad time", `{` + base + `,"berichten":[{"van":"bot","tijdstip":"2024-02-30T10:00:00Z","tekst":"x"}]}`, []intakeapi.InvalidParam{p("/berichten/0/tijdstip", "format")}},
		{"form without reference", `{"gesprekId":"g1","kanaal":"chat","uitkomst":{"soort":"formulierIngediend","formulier":"F"},` + oneMsg + `}`, []intakeapi.InvalidParam{p("/uitkomst/referentie", "required")}},
		{"partijId without authentication", `{` + base + `,` + oneMsg + `,"klant":{"partijId":"3f2d8c1a-6b4e-4f0a-9c7d-2e5b8a1f4c63"}}`, []intakeapi.InvalidParam{p("/klant/geauthenticeerd", "required")}},
		{"http url", `{` + base + `,"berichten":[{"van":"bot","tijdstip":"2024-05-01T10:00:00Z","bijlagen":[{"bestandsnaam":"a","mediaType":"text/plain","url":"http://h/a"}]}]}`, []intakeapi.InvalidParam{p("/berichten/0/bijlagen/0/url", "pattern")}},
		{"bad kenmerk name", `{` + base + `,` + oneMsg + `,"kenmerken":{"a b":"x"}}`, []intakeapi.InvalidParam{p("/kenmerken/a b", "propertyNames")}},
		{"every field listed", `{"gesprekId":"g1","kanaal":"","berichten":[{"van":"robot","tijdstip":"x","tekst":"y"}],"uitkomst":{"soort":"x"},"extra":1}`,
			[]intakeapi.InvalidParam{p("/berichten/0/tijdstip", "format"), p("/berichten/0/van", "enum"), p("/extra", "additionalProperties"), p("/kanaal", "minLength"), p("/uitkomst/soort", "enum")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, got := decodeGesprek([]byte(tc.doc))
			if g != nil {
				t.Fatalf("decodeGesprek(%s) = %+v, want problems", tc.name, g)
			}
			var codes []intakeapi.InvalidParam
			for _, pr := range got {
				if pr.Reason == "" {
					t.Errorf("problem %s %s has no reason", pr.Name, pr.Code)
				}
				codes = append(codes, p(pr.Name, pr.Code))
			}
			if !reflect.DeepEqual(codes, tc.want) {
				t.Errorf("decodeGesprek(%s) = %v, want %v", tc.name, codes, tc.want)
			}
		})
	}
}

func FuzzDecodeGesprek(f *testing.F) {
	for _, name := range []string{"gesprek-c1242-beantwoord.json", "gesprek-c9853-whatsapp.json", "chat-privacy.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{` + base + `,` + oneMsg + `}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, probs := decodeGesprek(b)
		if (g == nil) == (probs == nil) {
			t.Fatalf("decodeGesprek = %v, %v: want exactly one", g, probs)
		}
		if g != nil {
			render(g)
			in := gesprekIntake(conversation{g: g, raw: b, vendor: testVendor, received: received}, &testParser().opts.Settings)
			if in.Identity == "" {
				t.Fatal("empty identity")
			}
		}
	})
}
