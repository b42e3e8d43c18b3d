package ingesttest_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

// TestAsyncAPIMatchesTheCode keeps docs/asyncapi.yaml true: its messages are the event
// types the code emits, with the published schemas, on the default topics.
func TestAsyncAPIMatchesTheCode(t *testing.T) {
	b, err := os.ReadFile("../../docs/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Channels map[string]struct {
			Address string `yaml:"address"`
		} `yaml:"channels"`
		Components struct {
			Messages map[string]struct {
				Name    string `yaml:"name"`
				Payload struct {
					Schema struct {
						Ref string `yaml:"$ref"`
					} `yaml:"schema"`
				} `yaml:"payload"`
			} `yaml:"messages"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("asyncapi.yaml: %v", err)
	}
	var names []string
	for _, m := range doc.Components.Messages {
		names = append(names, m.Name)
		file, ok := ingesttest.EventSchemas[m.Name]
		if !ok {
			t.Errorf("message %s is not an event type the code emits", m.Name)
			continue
		}
		if filepath.Base(m.Payload.Schema.Ref) != file {
			t.Errorf("message %s refers to %s, want %s", m.Name, m.Payload.Schema.Ref, file)
		}
		if _, err := os.Stat(filepath.Join("../../docs", m.Payload.Schema.Ref)); err != nil {
			t.Errorf("schema of %s: %v", m.Name, err)
		}
	}
	sort.Strings(names)
	want := []string{ingest.TypeInternetaak, ingest.TypeDeadLetter, ingest.TypeKlantcontact}
	sort.Strings(want)
	if len(names) != len(want) {
		t.Errorf("messages = %v, want %v", names, want)
	}
	for _, topic := range []string{"klantcontacten", "internetaken", "instroom.deadletter"} {
		found := false
		for _, c := range doc.Channels {
			found = found || c.Address == topic
		}
		if !found {
			t.Errorf("no channel for the default topic %s", topic)
		}
	}
}
