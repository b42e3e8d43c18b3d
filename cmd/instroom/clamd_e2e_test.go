package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	"github.com/instroom/instroom/storage/clamd"
)

type mimeAttachment struct {
	name, contentType string
	body              []byte
}

// mimeTestMail is a multipart mail with a text body and base64 attachments.
func mimeTestMail(id, subject string, parts ...mimeAttachment) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Jan de Vries <jan@example.nl>\r\nTo: info@gemeente.example\r\nSubject: %s\r\nDate: Thu, 26 Nov 2026 10:00:00 +0100\r\n"+
		"Message-ID: <%s@example.nl>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"grens\"\r\n\r\n"+
		"--grens\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGeachte heer, mevrouw,\r\n\r\nZie de bijlagen.\r\n", subject, id)
	for _, p := range parts {
		fmt.Fprintf(&b, "--grens\r\nContent-Type: %s\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", p.contentType, p.name)
		enc := base64.StdEncoding.EncodeToString(p.body)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--grens--\r\n")
	return b.Bytes()
}

// TestClamdClientAgainstRealClamd: the client finds EICAR (alone and attached to a mail,
// which clamd's ScanMail decodes), passes clean content, reports clamd's size limit as
// ErrSizeLimit, and fails (temporarily) when clamd is gone; over TCP and the unix socket.
func TestClamdClientAgainstRealClamd(t *testing.T) {
	cd := ingesttest.StartClamd(t, ingesttest.ClamdOptions{StreamMaxLength: 1 << 20})
	ctx := context.Background()
	found := ingesttest.EICARSignature + ".UNOFFICIAL"
	mail := mimeTestMail("eicar-1", "Test", mimeAttachment{"test.com", "application/octet-stream", []byte(ingesttest.EICAR)})
	for _, addr := range []string{cd.URL, "unix://" + cd.Socket} {
		c, err := clamd.New(addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Ping(ctx); err != nil {
			t.Errorf("%s: Ping: %v", addr, err)
		}
		for _, tc := range []struct {
			what    string
			content []byte
			want    string
		}{
			{"EICAR", []byte(ingesttest.EICAR), found},
			{"a mail with EICAR attached", mail, found},
			{"clean content", bytes.Repeat([]byte("Geachte heer, mevrouw. "), 30000), ""},
			{"nothing", nil, ""},
		} {
			sig, err := c.Scan(ctx, bytes.NewReader(tc.content))
			if err != nil || sig != tc.want {
				t.Errorf("%s: %s: Scan = %q, %v; want %q", addr, tc.what, sig, err, tc.want)
			}
		}
		for range 5 {
			if _, err := c.Scan(ctx, bytes.NewReader(make([]byte, 3<<20))); !errors.Is(err, clamd.ErrSizeLimit) {
				t.Errorf("%s: 3 MiB over clamd's 1 MiB StreamMaxLength: err = %v, want ErrSizeLimit", addr, err)
			}
		}
	}
	cd.Stop()
	c, _ := clamd.New(cd.URL, 2*time.Second)
	if err := c.Ping(ctx); err == nil {
		t.Error("Ping of a stopped clamd succeeded")
	}
	if _, err := c.Scan(ctx, strings.NewReader(ingesttest.EICAR)); err == nil || errors.Is(err, clamd.ErrSizeLimit) {
		t.Errorf("Scan with clamd stopped: err = %v, want a connection error", err)
	}
}

// TestClamdEndToEnd runs the worker on the embedded default with a real clamd. While
// clamd is down, mails wait and nothing is stored; once it is back, a mail with an EICAR
// attachment and a clean one is registered without the EICAR file (a bijlage for the
// clean attachment, the original in the quarantine, the note on the interne taak, the
// infected counter up), and a clean mail as always.
func TestClamdEndToEnd(t *testing.T) {
	cd := ingesttest.StartClamd(t, ingesttest.ClamdOptions{})
	cd.Stop()
	dir := t.TempDir()
	drop := filepath.Join(dir, "drop")
	os.MkdirAll(drop, 0o755)
	pdf := []byte("%PDF-1.4\n% schone brief van Jan\n")
	infected := mimeTestMail("virus-1", "Mijn aanslag geheim-onderwerp", mimeAttachment{"brief.pdf", "application/pdf", pdf},
		mimeAttachment{"geheime-factuur.com", "application/octet-stream", []byte(ingesttest.EICAR)})
	clean := mimeTestMail("schoon-1", "Vraag over afval", mimeAttachment{"foto.pdf", "application/pdf", pdf})
	os.WriteFile(filepath.Join(drop, "1-virus.eml"), infected, 0o644)
	os.WriteFile(filepath.Join(drop, "2-schoon.eml"), clean, 0o644)

	w := startScanWorker(t, dir, cd.URL)
	addr, waitFor := w.addr, w.waitFor

	// clamd down: an attempt fails temporarily, /readyz says so, nothing is stored.
	waitFor("a temporary failure while clamd is down", func() bool {
		return strings.Contains(scrapeMetrics(addr), `outcome="temporary"`)
	})
	waitFor("/readyz with clamd unreachable", func() bool {
		code, body, ok := readyz(t, addr)
		return ok && code == http.StatusServiceUnavailable && body.Checks["clamd"] == stateUnreachable
	})
	if objs := filesBelow(t, filepath.Join(dir, "data", "objects")); len(objs) != 0 {
		t.Errorf("stored %v while clamd was down", objs)
	}

	// clamd back: both mails are handled.
	if err := cd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cd.WaitPing(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor("both mails processed", func() bool {
		done, _ := os.ReadDir(filepath.Join(drop, "processed"))
		return len(done) == 2
	})
	waitFor("the infected counter", func() bool {
		return strings.Contains(scrapeMetrics(addr), `instroom_infected_total{channel="email"} 1`)
	})
	waitFor("/readyz with clamd ok", func() bool {
		_, body, ok := readyz(t, addr)
		return ok && body.Checks["clamd"] == stateOK
	})
	w.stop()
	checkClamdResult(t, dir, infected, pdf, w.logs.String())
}

// scanWorker is instroom running in this process on the embedded default, with virus
// scanning and a drop folder dir/drop.
type scanWorker struct {
	t       *testing.T
	addr    string // ops
	logs    *syncBuffer
	cancel  context.CancelFunc
	done    chan int
	stopped bool
}

func startScanWorker(t *testing.T, dir, clamdURL string) *scanWorker {
	t.Helper()
	w := &scanWorker{t: t, addr: freeAddr(t), logs: &syncBuffer{}, done: make(chan int, 1)}
	cfg := filepath.Join(dir, "instroom.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: data
ops: {listen: %q}
scan:
  clamd: {address: %q, timeout: 10s}
sources:
  - {name: drop, type: dir, path: drop, min_age: -1s, poll_interval: 100ms}
`, w.addr, clamdURL)), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() { w.done <- run(ctx, []string{"run", "-config", cfg}, io.Discard, w.logs, nil) }()
	t.Cleanup(w.stop)
	return w
}

// stop stops the worker as SIGTERM would (once).
func (w *scanWorker) stop() {
	if w.stopped {
		return
	}
	w.stopped = true
	w.cancel()
	if code := <-w.done; code != 0 {
		w.t.Errorf("run = exit %d: %s", code, tail(w.logs.String(), 3000))
	}
}

// waitFor polls cond until it holds (generous deadline).
func (w *scanWorker) waitFor(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s; worker log:\n%s", what, tail(w.logs.String(), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkClamdResult checks the events and objects TestClamdEndToEnd left.
func checkClamdResult(t *testing.T, dir string, infected, pdf []byte, logs string) {
	t.Helper()
	regs := readCheckedRegistrations(t, filepath.Join(dir, "data", "events"))
	if len(regs) != 2 {
		t.Fatalf("%d klantcontacten, want 2", len(regs))
	}
	objects := filepath.Join(dir, "data", "objects")
	pdfSum := sha256.Sum256(pdf)
	for _, reg := range regs {
		kinds := map[string]int{}
		for _, io := range reg.Informatieobjecten {
			kinds[io.Soort]++
			b, err := os.ReadFile(filepath.Join(objects, io.ObjectKey))
			if sum := sha256.Sum256(b); err != nil || hex.EncodeToString(sum[:]) != io.Integriteit.Waarde {
				t.Errorf("object %s: %v, or its sha256 is not the event's", io.ObjectKey, err)
			}
			if io.Soort == "bijlage" && (io.Integriteit.Waarde != hex.EncodeToString(pdfSum[:]) || io.Bestandsnaam == "geheime-factuur.com") {
				t.Errorf("stored attachment %s, want only the clean PDF", io.Bestandsnaam)
			}
		}
		kc := reg.Klantcontact.UUID
		man := filepath.Join(objects, "quarantaine", kc, "manifest.json")
		if !strings.Contains(reg.Klantcontact.Onderwerp, "aanslag") {
			if _, err := os.Stat(man); err == nil || kinds["origineel"] != 1 || kinds["bijlage"] != 1 {
				t.Errorf("clean mail: informatieobjecten %v, quarantined %v", kinds, err == nil)
			}
			continue
		}
		if kinds["origineel"] != 0 || kinds["bijlage"] != 1 || kinds["volledige_tekst"] != 1 {
			t.Errorf("infected mail: informatieobjecten %v, want the clean attachment and the full text", kinds)
		}
		if b, err := os.ReadFile(filepath.Join(objects, "quarantaine", kc, "origineel")); err != nil || !bytes.Equal(b, infected) {
			t.Errorf("the quarantined original is not the mail as received (%v)", err)
		}
		if b, err := os.ReadFile(filepath.Join(objects, "quarantaine", kc, "bijlage-2")); err != nil || string(b) != ingesttest.EICAR {
			t.Errorf("the infected attachment is not in the quarantine (%v)", err)
		}
		if _, err := os.Stat(man); err != nil {
			t.Error(err)
		}
		if len(reg.InterneTaken) != 1 || !strings.Contains(reg.InterneTaken[0].Toelichting, `Virus gevonden in bijlage "geheime-factuur.com" (Eicar-Test-Signature.UNOFFICIAL)`) {
			t.Errorf("interne taken %+v, want one with the note", reg.InterneTaken)
		}
	}
	for _, f := range filesBelow(t, objects) {
		b, _ := os.ReadFile(filepath.Join(objects, f))
		if bytes.Contains(b, []byte(ingesttest.EICAR)) && !strings.HasPrefix(f, "quarantaine/") {
			t.Errorf("EICAR stored outside the quarantine: %s", f)
		}
	}
	if !strings.Contains(logs, `"signature":"Eicar-Test-Signature.UNOFFICIAL"`) {
		t.Errorf("no warning naming the signature:\n%s", tail(logs, 3000))
	}
	for _, secret := range []string{"geheime-factuur", "geheim-onderwerp", "jan@example.nl"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// readCheckedRegistrations reads the klantcontacten events of the local log, validating every
// event (klantcontacten and internetaken) and every registration.
func readCheckedRegistrations(t *testing.T, events string) []ingest.Registration {
	t.Helper()
	ev, err := ingesttest.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	var regs []ingest.Registration
	for _, topic := range []string{"klantcontacten", "internetaken"} {
		recs, err := bus.ReadAll(filepath.Join(events, topic+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := ev.Validate(toMessage(r)); err != nil {
				t.Errorf("%s event: %v", topic, err)
			}
			if topic != "klantcontacten" {
				continue
			}
			var reg ingest.Registration
			if err := json.Unmarshal(r.Value, &reg); err != nil {
				t.Fatal(err)
			}
			if err := ingesttest.ValidateRegistration(&reg); err != nil {
				t.Error(err)
			}
			regs = append(regs, reg)
		}
	}
	return regs
}

// filesBelow lists the files below root, relative and with '/' separators.
func filesBelow(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

// scrapeMetrics returns the ops endpoint's /metrics ("" while it does not answer).
func scrapeMetrics(addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
