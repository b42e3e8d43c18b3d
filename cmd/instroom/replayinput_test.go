package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/storage/attempts"
	"github.com/instroom/instroom/storage/bus"
	"github.com/instroom/instroom/storage/dropzone"
)

func TestReadDeadLetters(t *testing.T) {
	data := `{"source":"info.INBOX","ref":"imap:info/INBOX/7/3","channel":"email","reason":"too_large","error":"x","at":"2026-11-20T09:00:00Z","size":120}`
	lines := []string{
		data,
		"",
		`{"specversion":"1.0","type":"nl.instroom.item.mislukt","source":"urn:instroom:x","id":"1","data":` + data + `}`,
		`{"specversion":"1.0","id":"2","source":"urn:instroom:x","data_base64":"` + base64.StdEncoding.EncodeToString([]byte(data)) + `"}`,
		`{"specversion":"1.0","id":"3","source":"urn:instroom:x","data":` + fmt.Sprintf("%q", data) + `}`,
		`{"topic":"instroom.deadletter","key":"k","headers":{"ce_id":"4"},"value":` + data + `}`,
		`{"topic":"instroom.deadletter","partition":0,"offset":5,"key":"k","payload":` + fmt.Sprintf("%q", data) + `}`,
	}
	evs, err := readDeadLetters(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 6 {
		t.Fatalf("%d events, want 6", len(evs))
	}
	for i, ev := range evs {
		if ev.Source != "info.INBOX" || ev.Ref != "imap:info/INBOX/7/3" || ev.Size != 120 || ev.Reason != ingest.ReasonTooLarge {
			t.Errorf("event %d = %+v", i, ev)
		}
	}
	for _, bad := range []string{
		`{"specversion":"1.0","type":"nl.instroom.klantcontact.geregistreerd","data":{}}`,
		`{"source":"info.INBOX"}`,
		`geen json GEHEIM-123`,
	} {
		_, err := readDeadLetters(strings.NewReader(data + "\n" + bad))
		if err == nil || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "GEHEIM") {
			t.Errorf("bad line %s: %v, want an error naming line 2 without the content", bad, err)
		}
	}
}

// TestReplayClearsAttempts: a poison item is replayed with its attempt record cleared (or
// it would be poison again at once), and the worker registers it; the item's dead letter
// from the embedded event log finds nothing after that. Usage errors exit 2, a -ref that
// is not there exits 1.
func TestReplayClearsAttempts(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "instroom.yaml")
	os.WriteFile(cfg, []byte("data_dir: data\nlog: {level: warn}\nsources:\n  - {name: drop, type: dir, path: drop, min_age: -1s, poll_interval: 50ms}\n"), 0o644)
	zone, err := dropzone.NewDir(filepath.Join(dir, "drop"), nil)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "drop", "m1.eml"), synthMail(1, 1<<10), 0o644)
	if err := zone.Fail(context.Background(), "m1.eml", ingest.ReasonPoison, "the worker died 3 times"); err != nil {
		t.Fatal(err)
	}
	log, err := attempts.Open(filepath.Join(dir, "data", "attempts"))
	if err != nil {
		t.Fatal(err)
	}
	key := ingest.AttemptKey("drop", "m1.eml")
	for range 3 {
		log.Begin(key)
	}

	if code, _, _ := runCLI(t, "replay", "-config", cfg, "-ref", "m1.eml", "-dead-letters", "x"); code != 2 {
		t.Errorf("-ref with -dead-letters = exit %d, want 2", code)
	}
	if code, _, errOut := runCLI(t, "replay", "-config", cfg, "-ref", "m2.eml"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("-ref of nothing = exit %d (%s), want 1", code, errOut)
	}
	if code, _, errOut := runCLI(t, "replay", "-config", cfg, "-source", "elders"); code != 1 || !strings.Contains(errOut, "no source") {
		t.Errorf("-source of nothing = exit %d (%s), want 1", code, errOut)
	}
	// The log names the item by a hash: -ref takes that too.
	if code, out, errOut := runCLI(t, "replay", "-config", cfg, "-dry-run", "-ref", ingest.RefHash("m1.eml")); code != 0 ||
		!strings.Contains(out, "m1.eml") || !strings.Contains(out, ingest.RefHash("m1.eml")) || !strings.Contains(out, "poison") {
		t.Errorf("replay -dry-run -ref <log id> = exit %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut := runCLI(t, "replay", "-config", cfg, "-reason", "poison", "-ref", "m1.eml")
	if code != 0 || !strings.Contains(out, "re-driven 1 of 1") {
		t.Fatalf("replay = exit %d:\n%s%s", code, out, errOut)
	}
	if n, _ := log.Count(key); n != 0 {
		t.Errorf("attempt record after replay = %d, want cleared", n)
	}
	if code, _, errOut := runCLI(t, "run", "-config", cfg, "-once"); code != 0 {
		t.Fatalf("run -once = exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "drop", "processed", "m1.eml")); err != nil {
		t.Errorf("the replayed item was not registered: %v", err)
	}
	recs, _ := bus.ReadAll(filepath.Join(dir, "data", "events", "klantcontacten.jsonl"))
	if len(recs) != 1 {
		t.Errorf("%d klantcontacten, want 1", len(recs))
	}
	// A dead letter as the embedded event log holds it: its item is gone from failed/.
	dl := ingest.DeadLetter(ingest.DeadLetterEvent{Source: "drop", Ref: "m1.eml", Reason: ingest.ReasonPoison}, "urn:instroom", ingest.Topics{})
	line := fmt.Sprintf(`{"topic":%q,"key":%q,"headers":{},"value":%s}`, dl.Topic, dl.Key, dl.Value)
	file := filepath.Join(dir, "dl.jsonl")
	os.WriteFile(file, []byte(line+"\n"), 0o644)
	if code, _, errOut := runCLI(t, "replay", "-config", cfg, "-dead-letters", file, "-dry-run"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("dead letter of a re-driven item = exit %d (%s), want 1", code, errOut)
	}
}
