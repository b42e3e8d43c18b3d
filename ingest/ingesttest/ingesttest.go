// Package ingesttest helps tests check what Instroom emits: every part of a registration
// against the Open Klant OpenAPI contract (a verbatim copy of Open Klant 2.18.0's
// klantinteracties-openapi.yaml, EUPL-1.2), and every event against the JSON Schemas the
// project publishes in docs/events.
package ingesttest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/instroom/instroom/ingest"
)

// OpenKlantSpec is the verbatim Open Klant Klantinteracties OpenAPI document.
//
//go:embed klantinteracties-openapi.yaml
var OpenKlantSpec []byte

// OpenKlantSHA256 is the sha256 of the verbatim copy (contracts/SOURCES.md).
const OpenKlantSHA256 = "52ae448e17d4189dc9f29d08754074bad0a41863db5b5d822457e8b77d828798"

var (
	specOnce sync.Once
	spec     *openapi3.T
	specErr  error
)

func openKlant() (*openapi3.T, error) {
	specOnce.Do(func() {
		l := openapi3.NewLoader()
		spec, specErr = l.LoadFromData(OpenKlantSpec)
		if specErr == nil {
			specErr = spec.Validate(context.Background())
		}
	})
	return spec, specErr
}

// PartSchemas maps each registration part to the Open Klant schema its items follow.
var PartSchemas = map[string]string{
	"klantcontact":        "Klantcontact",
	"actoren":             "Actor",
	"actorklantcontacten": "ActorKlantcontact",
	"betrokkenen":         "Betrokkene",
	"digitaleAdressen":    "DigitaalAdres",
	"bijlagen":            "Bijlage",
	"onderwerpobjecten":   "Onderwerpobject",
	"interneTaken":        "InterneTaak",
}

// ValidatePart validates one part (a Go value or decoded JSON) as an Open Klant request
// body of the named schema, after removing its own "uuid" (Open Klant assigns that).
func ValidatePart(schema string, part any) error {
	doc, err := openKlant()
	if err != nil {
		return fmt.Errorf("loading Open Klant spec: %w", err)
	}
	ref, ok := doc.Components.Schemas[schema]
	if !ok {
		return fmt.Errorf("no schema %q in the Open Klant spec", schema)
	}
	b, err := json.Marshal(part)
	if err != nil {
		return err
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	delete(v, "uuid")
	return ref.Value.VisitJSON(v, openapi3.VisitAsRequest(), openapi3.MultiErrors(), openapi3.EnableFormatValidation(),
		openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)))
}

// ValidateRegistration validates every part of a registration against Open Klant. The
// error names each failing part.
func ValidateRegistration(reg *ingest.Registration) error {
	b, err := json.Marshal(reg)
	if err != nil {
		return err
	}
	var parts map[string]json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		return err
	}
	var errs []error
	for name, raw := range parts {
		schema, ok := PartSchemas[name]
		if !ok {
			continue // informatieobjecten: Documenten API, checked by the event schema
		}
		var items []any
		if name == "klantcontact" {
			var one any
			if err := json.Unmarshal(raw, &one); err != nil {
				return err
			}
			items = []any{one}
		} else if err := json.Unmarshal(raw, &items); err != nil {
			return err
		}
		for i, it := range items {
			if err := ValidatePart(schema, it); err != nil {
				errs = append(errs, fmt.Errorf("%s[%d] is not a valid %s: %w", name, i, schema, err))
			}
		}
	}
	return errors.Join(errs...)
}

// EventSchemas maps CloudEvents types to the published schema files in docs/events.
var EventSchemas = map[string]string{
	ingest.TypeKlantcontact: "klantcontact-geregistreerd.schema.json",
	ingest.TypeInternetaak:  "internetaak-aangemaakt.schema.json",
	ingest.TypeDeadLetter:   "item-mislukt.schema.json",
}

// EventValidator validates event data against the published JSON Schemas.
type EventValidator struct {
	schemas map[string]*jsonschema.Schema
}

// NewEventValidator compiles the schemas in the repository's docs/events directory.
func NewEventValidator() (*EventValidator, error) {
	dir, err := repoDir("docs/events")
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	ev := &EventValidator{schemas: map[string]*jsonschema.Schema{}}
	ids := map[string]string{}
	for _, file := range EventSchemas {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if id == "" {
			return nil, fmt.Errorf("%s has no $id", file)
		}
		if err := c.AddResource(id, doc); err != nil {
			return nil, err
		}
		ids[file] = id
	}
	for typ, file := range EventSchemas {
		s, err := c.Compile(ids[file])
		if err != nil {
			return nil, fmt.Errorf("compiling %s: %w", file, err)
		}
		ev.schemas[typ] = s
	}
	return ev, nil
}

// Validate checks one event: its CloudEvents headers and its data against the schema of
// its type.
func (ev *EventValidator) Validate(m ingest.Message) error {
	h := map[string]string{}
	for _, kv := range m.Headers {
		h[kv.Key] = kv.Value
	}
	for _, k := range []string{"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"} {
		if h[k] == "" {
			return fmt.Errorf("event lacks header %s", k)
		}
	}
	if h["ce_specversion"] != "1.0" {
		return fmt.Errorf("ce_specversion = %q, want 1.0", h["ce_specversion"])
	}
	s, ok := ev.schemas[h["ce_type"]]
	if !ok {
		return fmt.Errorf("no schema for event type %q", h["ce_type"])
	}
	data, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Value))
	if err != nil {
		return fmt.Errorf("event data is not JSON: %w", err)
	}
	return s.Validate(data)
}

// repoDir finds a directory relative to the module root (the directory with go.mod).
func repoDir(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, rel), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root not found")
		}
		dir = parent
	}
}
