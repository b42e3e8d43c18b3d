package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/storage/bus"
)

// synthMail builds a mail with an attachment of the given size.
func synthMail(i, attach int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Burger %d <burger%d@example.nl>\r\nTo: info@gemeente.example\r\n", i, i)
	fmt.Fprintf(&b, "Subject: Melding nummer %d\r\nDate: Fri, 20 Nov 2026 09:%02d:%02d +0100\r\n", i, i/60%60, i%60)
	fmt.Fprintf(&b, "Message-ID: <crash-%d@example.nl>\r\nMIME-Version: 1.0\r\n", i)
	b.WriteString("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	fmt.Fprintf(&b, "Dit is melding %d. %s\r\n", i, strings.Repeat("Tekst van de melding. ", 20))
	b.WriteString("--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"bijlage.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	// Valid base64: 54 bytes of the attachment per 72-character line, different per mail.
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	chunk := make([]byte, 54)
	line := make([]byte, base64.StdEncoding.EncodedLen(len(chunk)))
	for n := 0; n < attach/54; n++ {
		for j := range chunk {
			chunk[j] = byte(rng.Uint32())
		}
		base64.StdEncoding.Encode(line, chunk)
		b.Write(line)
		b.WriteString("\r\n")
	}
	b.WriteString("--b--\r\n")
	return []byte(b.String())
}

func startWorker(t *testing.T, cfg string, out io.Writer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "run", "-config", cfg, "-once")
	cmd.Env = append(os.Environ(), "INSTROOM_TEST_AS_MAIN=1")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// waitProgress polls count until it drops below before, or the timeout passes.
func waitProgress(count func() int, before int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for count() >= before && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
}

func countFiles(dir string) int {
	ents, _ := os.ReadDir(dir)
	return len(ents)
}

// TestCrashRestart kills the worker with SIGKILL at random moments while it works through
// a Maildir, restarts it each time, and checks that every mail ends as exactly one
// klantcontact whose redone events are byte-identical, with every object stored.
func TestCrashRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs the worker as a process many times")
	}
	const mails = 300
	dir := t.TempDir()
	inbox := filepath.Join(dir, "inbox")
	for _, sub := range []string{"new", "cur", "tmp"} {
		os.MkdirAll(filepath.Join(inbox, sub), 0o755)
	}
	parser := mail.NewParser(nil)
	want := map[string]bool{}
	for i := range mails {
		raw := synthMail(i, 8<<10+i*97%(32<<10))
		name := fmt.Sprintf("%d.M%dP1.test", 1732270000+i, i)
		if err := os.WriteFile(filepath.Join(inbox, "new", name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		in, err := parser.ParseBytes(raw, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		want[ingest.KlantcontactID(in.Channel, in.Identity)] = true
	}
	cfg := filepath.Join(dir, "instroom.yaml")
	os.WriteFile(cfg, []byte("instance: crashtest\ndata_dir: data\nlog: {level: warn}\nlimits: {max_attempts: 1000}\nsources:\n  - {name: inbox, type: maildir, path: inbox, poll_interval: 20ms}\n"), 0o644)

	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	logf, _ := os.Create(filepath.Join(dir, "worker.log"))
	defer logf.Close()
	interrupted := 0
	for kill := 0; kill < 40 && interrupted < 12; kill++ {
		before := countFiles(filepath.Join(inbox, "new"))
		if before == 0 {
			break
		}
		cmd := startWorker(t, cfg, logf)
		// Kill it while it works: once the inbox shrinks, after a short random delay.
		waitProgress(func() int { return countFiles(filepath.Join(inbox, "new")) }, before, 30*time.Second)
		time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		left := countFiles(filepath.Join(inbox, "new"))
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && left > 0 && left < before {
			interrupted++
		}
		t.Logf("kill %d: %d mails before, %d after (%v)", kill, before, left, err)
	}
	if interrupted < 10 {
		t.Errorf("only %d kills interrupted the worker mid-run, want at least 10", interrupted)
	}
	// The last run goes to the end.
	cmd := startWorker(t, cfg, logf)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() { <-ctx.Done(); cmd.Process.Kill() }()
	if err := cmd.Wait(); err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "worker.log"))
		t.Fatalf("final run = %v\n%s", err, b)
	}

	if n := countFiles(filepath.Join(inbox, "new")); n != 0 {
		t.Errorf("%d mails left unprocessed", n)
	}
	if n := countFiles(filepath.Join(inbox, ".Verwerkt", "cur")); n != mails {
		t.Errorf("processed folder holds %d mails, want %d", n, mails)
	}
	if n := countFiles(filepath.Join(inbox, ".Mislukt", "cur")); n != 0 {
		t.Errorf("%d mails failed", n)
	}
	recs, err := bus.ReadAll(filepath.Join(dir, "data", "events", "klantcontacten.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// A redone mail whose event differed in any byte would appear twice in the log, which
	// writes an event again only when its id or content changed.
	perID := map[string]int{}
	for _, r := range recs {
		perID[r.Key]++
		var reg ingest.Registration
		if err := json.Unmarshal(r.Value, &reg); err != nil {
			t.Fatal(err)
		}
		if !want[reg.Klantcontact.UUID] {
			t.Errorf("unexpected klantcontact %s", reg.Klantcontact.UUID)
		}
		for _, io := range reg.Informatieobjecten {
			b, err := os.ReadFile(filepath.Join(dir, "data", "objects", io.ObjectKey))
			if err != nil {
				t.Errorf("object missing: %v", err)
				continue
			}
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != io.Integriteit.Waarde || int64(len(b)) != io.Bestandsomvang {
				t.Errorf("object %s does not match its event", io.ObjectKey)
			}
		}
	}
	if len(perID) != mails {
		t.Errorf("%d distinct klantcontacten, want %d", len(perID), mails)
	}
	for id, n := range perID {
		if n != 1 {
			t.Errorf("klantcontact %s has %d different events; redone events must be byte-identical", id, n)
		}
	}
	tasks, _ := bus.ReadAll(filepath.Join(dir, "data", "events", "internetaken.jsonl"))
	if len(tasks) != mails {
		t.Errorf("%d internetaken events, want %d", len(tasks), mails)
	}
}
