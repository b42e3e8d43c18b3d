package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/storage/attempts"
	"github.com/instroom/instroom/storage/bus"
)

// hangingS3 answers every request at once except uploads, which never finish: an item
// whose attempt reaches the blob store hangs there until the worker is killed.
func hangingS3(t *testing.T) string {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-stop:
			}
			return
		}
		if r.Method == http.MethodGet && r.URL.Query().Has("location") {
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">us-east-1</LocationConstraint>`)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestPoisonItemAcrossRestarts kills the worker (SIGKILL) three times while it is in the
// middle of the same mail; at the fourth start the mail is recognised as poison: it goes
// to the failed folder with a dead letter (reason poison) instead of being tried again.
func TestPoisonItemAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	inbox := filepath.Join(dir, "inbox")
	for _, sub := range []string{"new", "cur", "tmp"} {
		os.MkdirAll(filepath.Join(inbox, sub), 0o755)
	}
	if err := os.WriteFile(filepath.Join(inbox, "new", "1.eml"), synthMail(1, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "instroom.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, `data_dir: data
log: {level: debug}
limits: {max_attempts: 3}
storage:
  blobs:
    type: s3
    s3: {endpoint: %s, bucket: instroom, region: us-east-1, insecure: true, path_style: true, access_key: k, secret_key: s}
sources:
  - {name: info, type: maildir, path: inbox}
`, hangingS3(t)), 0o644)
	// The items with attempts counted, read as the next worker reads them (the worker is
	// dead or not started when this runs).
	attemptFiles := func() int {
		l, err := attempts.Open(filepath.Join(dir, "data", "attempts"))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		n, err := l.Pending()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// While a worker runs: the size of its journal (67 bytes a record; a start rewrites
	// it with one record per attempt counted).
	journalSize := func() int64 {
		fi, err := os.Stat(filepath.Join(dir, "data", "attempts", "journal"))
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	for crash := 1; crash <= 3; crash++ {
		var out syncBuffer
		cmd := startWorker(t, cfg, &out)
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(out.String(), "klantcontact") && journalSize() < int64(crash)*67 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		// The attempt is recorded before it starts; wait until the upload hangs.
		time.Sleep(300 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if attemptFiles() != 1 {
			t.Fatalf("crash %d: %d attempt records, want 1\n%s", crash, attemptFiles(), out.String())
		}
	}
	var out syncBuffer
	cmd := startWorker(t, cfg, &out)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("worker: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the poison mail was not given up\n%s", out.String())
	}
	failed, _ := filepath.Glob(filepath.Join(inbox, ".Mislukt", "cur", "*"))
	if len(failed) != 1 {
		t.Fatalf("failed folder holds %d mails, want 1\n%s", len(failed), out.String())
	}
	recs, err := bus.ReadAll(filepath.Join(dir, "data", "events", "instroom.deadletter.jsonl"))
	if err != nil || len(recs) != 1 {
		t.Fatalf("dead letters = %d (%v), want 1", len(recs), err)
	}
	if !bytes.Contains(recs[0].Value, []byte(`"reason":"`+ingest.ReasonPoison+`"`)) {
		t.Errorf("dead letter = %s, want reason poison", recs[0].Value)
	}
	if attemptFiles() != 0 {
		t.Errorf("attempt record left after the mail was settled")
	}
}
