package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/storage/bus"
)

// TestRepliesAndZakenLink runs the worker on the embedded default with a mail, a reply to
// it and a mail naming a zaak: the reply's klantcontact has the first one as
// wasKlantcontact (found through the contact index in the blob store), the zaak mail an
// onderwerpobject for its zaak. A second run over the same mails changes nothing.
func TestRepliesAndZakenLink(t *testing.T) {
	dir := t.TempDir()
	drop := filepath.Join(dir, "drop")
	os.MkdirAll(drop, 0o755)
	for i, name := range []string{"01-plain.eml", "74-reply-to-01.eml", "73-zaaknummer.eml"} {
		b, err := os.ReadFile(filepath.Join("../../channels/mail/testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(drop, name)
		os.WriteFile(p, b, 0o644)
		mt := time.Now().Add(time.Duration(i-10) * time.Minute) // oldest first: the original before the reply
		os.Chtimes(p, mt, mt)
	}
	cfg := filepath.Join(dir, "instroom.yaml")
	os.WriteFile(cfg, []byte("data_dir: data\nsources:\n  - {name: drop, type: dir, path: drop}\n"), 0o644)
	registrations := func() []ingest.Registration {
		recs, err := bus.ReadAll(filepath.Join(dir, "data", "events", "klantcontacten.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		var out []ingest.Registration
		for _, r := range recs {
			var reg ingest.Registration
			if err := json.Unmarshal(r.Value, &reg); err != nil {
				t.Fatal(err)
			}
			out = append(out, reg)
		}
		return out
	}
	if code, _, stderr := runCLI(t, "run", "-once", "-config", cfg); code != 0 {
		t.Fatalf("run = exit %d: %s", code, stderr)
	}
	regs := registrations()
	if len(regs) != 3 {
		t.Fatalf("%d klantcontacten, want 3", len(regs))
	}
	if o := regs[1].Onderwerpobjecten; len(o) != 1 || o[0].WasKlantcontact == nil || o[0].WasKlantcontact.UUID != regs[0].Klantcontact.UUID {
		t.Errorf("onderwerpobjecten of the reply = %+v, want wasKlantcontact %s", o, regs[0].Klantcontact.UUID)
	}
	if o := regs[2].Onderwerpobjecten; len(o) != 1 || o[0].Onderwerpobjectidentificator == nil || o[0].Onderwerpobjectidentificator.ObjectID != "Z-2026-000123" {
		t.Errorf("onderwerpobjecten of the zaak mail = %+v, want zaak Z-2026-000123", o)
	}

	// Redelivered: the same events again, so the log (which skips identical events) is unchanged.
	entries, _ := os.ReadDir(filepath.Join(drop, "processed"))
	for _, e := range entries {
		os.Rename(filepath.Join(drop, "processed", e.Name()), filepath.Join(drop, e.Name()))
	}
	if code, _, stderr := runCLI(t, "run", "-once", "-config", cfg); code != 0 {
		t.Fatalf("second run = exit %d: %s", code, stderr)
	}
	if again := registrations(); len(again) != 3 {
		t.Errorf("after redelivery %d klantcontact events, want the same 3", len(again))
	}
}
