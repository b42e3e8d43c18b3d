package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/bus"
	"github.com/instroom/instroom/storage/dropzone"
)

// TestLetterHalvesAloneEndToEnd: in a letter drop zone (a directory), a sidecar whose
// scan never came and a scan no sidecar names, both older than pair_timeout, beside a
// complete letter. The worker (embedded event log) registers the letter, publishes a dead
// letter for each half, counts them in instroom_dead_letters_total and moves them to
// failed/ with their reasons. instroom replay -dead-letters puts both back; once the scan
// arrives, the sidecar is registered with it, and the stray scan waits again.
func TestLetterHalvesAloneEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ops := fmt.Sprintf("127.0.0.1:%d", ingesttest.FreePort(t))
	cfg := filepath.Join(dir, "instroom.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: data
log: {level: info}
ops: {listen: %s}
intake:
  vendors:
    scanstraat: {channels: [brief]}
sources:
  - {name: brieven, type: dir, channel: brief, path: brieven, min_age: -1s, poll_interval: 100ms, pair_timeout: 1h}
`, ops)), 0o644)
	zone := filepath.Join(dir, "brieven", "scanstraat")
	os.MkdirAll(zone, 0o755)
	put := func(name string, b []byte, age time.Duration) {
		t.Helper()
		p := filepath.Join(zone, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-age)
		os.Chtimes(p, at, at)
	}
	side, scan, bestand := letterFiles(t, "brief-c2138.json", "E2E-ALONE-1")
	put("E2E-ALONE-1.json", side, 2*time.Hour) // its scan never came
	stray := []byte("%PDF-1.4 a scan no sidecar names")
	put("E2E-STRAY.pdf", stray, 3*time.Hour)
	pairSide, pairScan, pairBestand := letterFiles(t, "brief-bezwaar-zaak.json", "E2E-PAIR-1")
	put(pairBestand, pairScan, 0)
	put("E2E-PAIR-1.json", pairSide, 0)

	where := func(name string) string {
		for _, place := range []string{"", "processed", "failed"} {
			if _, err := os.Stat(filepath.Join(zone, place, name)); err == nil {
				return "/" + place
			}
		}
		return ""
	}
	counted := func(reason string) bool {
		resp, err := http.Get("http://" + ops + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `instroom_dead_letters_total{channel="brief",reason="`+reason+`",source="brieven"} 1`)
	}
	runUntil(t, cfg, 60*time.Second, func() bool {
		return where("E2E-ALONE-1.json") == "/failed" && where("E2E-STRAY.pdf") == "/failed" && where("E2E-PAIR-1.json") == "/processed" &&
			counted("missing_scan") && counted("missing_sidecar")
	})
	for name, reason := range map[string]string{"E2E-ALONE-1.json": "missing_scan", "E2E-STRAY.pdf": "missing_sidecar"} {
		var r dropzone.Reason
		b, _ := os.ReadFile(filepath.Join(zone, "failed", name+".reason.json"))
		if err := json.Unmarshal(b, &r); err != nil || r.Reason != reason || r.Name != name || r.Detail == "" {
			t.Errorf("reason file of %s = %+v, %v; want %s", name, r, err, reason)
		}
	}

	// One dead letter per half, valid, named vendor/file, without the name in its error.
	deadLetters := filepath.Join(dir, "data", "events", "instroom.deadletter.jsonl")
	dls := readEventLog(t, deadLetters)
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	want := map[string][2]string{
		"scanstraat/E2E-ALONE-1.json": {"missing_scan", sum(side)},
		"scanstraat/E2E-STRAY.pdf":    {"missing_sidecar", sum(stray)},
	}
	for _, dl := range dls {
		w, ok := want[dl.Ref]
		if !ok || dl.Source != "brieven" || dl.Channel != "brief" || dl.Reason != w[0] || dl.SHA256 != w[1] ||
			strings.Contains(dl.Error, "E2E") {
			t.Errorf("dead letter %+v, want one of %v", dl, want)
		}
		delete(want, dl.Ref)
	}
	if len(dls) != 2 || len(want) != 0 {
		t.Fatalf("%d dead letters, missing %v", len(dls), want)
	}

	// Both go back by their dead letters; the scan arrives and the letter is registered.
	if code, out, errOut := runCLI(t, "replay", "-config", cfg, "-dead-letters", deadLetters); code != 0 || !strings.Contains(out, "re-driven 2 of 2") {
		t.Fatalf("replay -dead-letters = exit %d:\n%s%s", code, out, errOut)
	}
	if where("E2E-ALONE-1.json") != "/" || where("E2E-STRAY.pdf") != "/" {
		t.Fatalf("after replay: sidecar in %q, stray scan in %q; want both at the top level", where("E2E-ALONE-1.json"), where("E2E-STRAY.pdf"))
	}
	put(bestand, scan, 0)
	runUntil(t, cfg, 60*time.Second, func() bool {
		return where("E2E-ALONE-1.json") == "/processed" && where(bestand) == "/processed"
	})
	if w := where("E2E-STRAY.pdf"); w != "/" {
		t.Errorf("the replayed stray scan is in %q, want the top level: it waits pair_timeout again", w)
	}
	if n := len(readEventLog(t, deadLetters)); n != 2 {
		t.Errorf("%d dead letters in the end, want the first 2", n)
	}
	kcs := map[string]bool{}
	for _, rec := range readRecords(t, filepath.Join(dir, "data", "events", "klantcontacten.jsonl")) {
		kcs[rec.Key] = true
	}
	for _, id := range []string{"E2E-PAIR-1", "E2E-ALONE-1"} {
		if !kcs[ingest.KlantcontactID("brief", "scanstraat\x1f"+id)] {
			t.Errorf("no klantcontact for letter %s (have %v)", id, kcs)
		}
	}
}

// readRecords reads a topic file of the embedded event log.
func readRecords(t *testing.T, path string) []bus.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []bus.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var rec bus.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readEventLog reads the dead letters of the embedded event log, each checked against the
// event schemas.
func readEventLog(t *testing.T, path string) []ingest.DeadLetterEvent {
	t.Helper()
	v, err := ingesttest.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	var out []ingest.DeadLetterEvent
	for _, rec := range readRecords(t, path) {
		msg := ingest.Message{Topic: rec.Topic, Key: rec.Key, Value: rec.Value}
		for k, val := range rec.Headers {
			msg.Headers = append(msg.Headers, ingest.Header{Key: k, Value: val})
		}
		if err := v.Validate(msg); err != nil {
			t.Errorf("dead letter %s: %v", rec.Key, err)
		}
		var dl ingest.DeadLetterEvent
		if err := json.Unmarshal(rec.Value, &dl); err != nil {
			t.Fatal(err)
		}
		out = append(out, dl)
	}
	return out
}
