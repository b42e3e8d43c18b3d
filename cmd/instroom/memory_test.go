package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/storage/bus"
)

// buildInstroom builds the instroom binary without the race detector, for tests that
// measure the process (the race detector multiplies memory).
func buildInstroom(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "instroom")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// writeLargeMail writes a mail of about 150 MB to path, streaming: a short Dutch text,
// a 100 MB attachment and a 5 MB one, base64 in 76-character lines. It returns the
// SHA-256 of each attachment's content.
func writeLargeMail(t *testing.T, path string) (sums []string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprint(w, "From: Jan de Vries <jan@example.nl>\r\nTo: info@gemeente.example\r\nSubject: Bouwtekeningen aanvraag omgevingsvergunning\r\n"+
		"Date: Fri, 20 Nov 2026 09:00:00 +0100\r\nMessage-ID: <groot@example.nl>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=\"grens\"\r\n\r\n--grens\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
		"Geachte heer/mevrouw,\r\n\r\nBijgaand de bouwtekeningen voor mijn aanvraag.\r\n\r\nMet vriendelijke groet,\r\nJan de Vries\r\n")
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	for i, size := range []int{100 << 20, 5 << 20} {
		fmt.Fprintf(w, "--grens\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"tekening-%d.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", i+1)
		h := sha256.New()
		chunk := make([]byte, 57*1024) // 57 bytes encode to one 76-character line
		line := make([]byte, base64.StdEncoding.EncodedLen(57))
		for left := size; left > 0; {
			n := min(len(chunk), left)
			for j := range chunk[:n] {
				chunk[j] = byte(rng.Uint32())
			}
			h.Write(chunk[:n])
			for off := 0; off < n; off += 57 {
				end := min(off+57, n)
				enc := line[:base64.StdEncoding.EncodedLen(end-off)]
				base64.StdEncoding.Encode(enc, chunk[off:end])
				w.Write(enc)
				w.WriteString("\r\n")
			}
			left -= n
		}
		sums = append(sums, hex.EncodeToString(h.Sum(nil)))
	}
	fmt.Fprint(w, "--grens--\r\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return sums
}

// runMeasured runs the binary and returns its peak RSS in bytes: the kernel's high-water
// mark (VmHWM in /proc/<pid>/status), read every 10 ms while it runs. (wait4's ru_maxrss
// is no good here: it also counts the memory of the test process the child was forked
// from, up to its exec.)
func runMeasured(t *testing.T, bin string, args ...string) (int64, string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	var peak int64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if hwm := vmHWM(status); hwm > peak {
			peak = hwm
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s %v: %v\n%s", bin, args, err, out.String())
			}
			if peak == 0 {
				t.Fatal("could not read the worker's VmHWM")
			}
			return peak, out.String()
		case <-tick.C:
		}
	}
}

// vmHWM reads the peak RSS from a /proc/<pid>/status file, 0 when it cannot.
func vmHWM(status string) int64 {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// TestLargeMailBoundedMemory ingests a 150 MB mail with a 100 MB attachment (parse, store
// the .eml and both attachments, publish) and checks that the worker's peak RSS stays at
// most 100 MB; then, with the size cap below the mail, that it goes to failed without
// being read. Reproduce the figure in docs/BENCHMARKS.md with
// go test ./cmd/instroom -run TestLargeMailBoundedMemory -v.
func TestLargeMailBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 150 MB mail")
	}
	bin := buildInstroom(t)
	dir := t.TempDir()
	drop := filepath.Join(dir, "drop")
	os.MkdirAll(drop, 0o755)
	mailPath := filepath.Join(drop, "groot.eml")
	sums := writeLargeMail(t, mailPath)
	info, _ := os.Stat(mailPath)
	cfg := func(limit int64) string {
		p := filepath.Join(dir, fmt.Sprintf("instroom-%d.yaml", limit))
		os.WriteFile(p, []byte(fmt.Sprintf("data_dir: data\nlog: {level: warn}\nsources:\n  - {name: drop, type: dir, path: drop, min_age: -1s, workers: 4}\nlimits: {max_message_bytes: %d}\n", limit)), 0o644)
		return p
	}

	rss, out := runMeasured(t, bin, "run", "-once", "-config", cfg(200<<20))
	t.Logf("a %.0f MB mail with a 100 MB attachment: peak RSS %.1f MB", float64(info.Size())/1e6, float64(rss)/(1<<20))
	if rss > 100<<20 {
		t.Errorf("peak RSS = %.1f MB, want at most 100 MB", float64(rss)/(1<<20))
	}
	if _, err := os.Stat(filepath.Join(drop, "processed", "groot.eml")); err != nil {
		t.Fatalf("mail not in processed/: %v\n%s", err, out)
	}
	recs, err := bus.ReadAll(filepath.Join(dir, "data", "events", "klantcontacten.jsonl"))
	if err != nil || len(recs) != 1 {
		t.Fatalf("klantcontacten events = %d (%v), want 1", len(recs), err)
	}
	var reg ingest.Registration
	if err := json.Unmarshal(recs[0].Value, &reg); err != nil {
		t.Fatalf("klantcontact event: %v", err)
	}
	ios := reg.Informatieobjecten
	if len(ios) != 3 || ios[0].Bestandsomvang != info.Size() || ios[1].Integriteit.Waarde != sums[0] || ios[2].Integriteit.Waarde != sums[1] || ios[1].Bestandsomvang != 100<<20 {
		t.Fatalf("informatieobjecten = %+v, want the .eml (%d bytes) and the attachments %v", ios, info.Size(), sums)
	}
	for _, io := range ios {
		if st, err := os.Stat(filepath.Join(dir, "data", "objects", io.ObjectKey)); err != nil || st.Size() != io.Bestandsomvang {
			t.Errorf("object %s: %v, want %d bytes", io.ObjectKey, err, io.Bestandsomvang)
		}
	}
	if spooled, _ := os.ReadDir(filepath.Join(dir, "data", "spool", "mail")); len(spooled) != 0 {
		t.Errorf("%d spool files left behind", len(spooled))
	}

	// Over the cap: refused unread, with its reason.
	if err := os.Rename(filepath.Join(drop, "processed", "groot.eml"), mailPath); err != nil {
		t.Fatal(err)
	}
	rss, _ = runMeasured(t, bin, "run", "-once", "-config", cfg(50<<20))
	t.Logf("the same mail over a 50 MB cap: peak RSS %.1f MB", float64(rss)/(1<<20))
	reason, err := os.ReadFile(filepath.Join(drop, "failed", "groot.eml.reason.json"))
	if err != nil || !strings.Contains(string(reason), `"too_large"`) {
		t.Errorf("reason = %s (%v), want too_large", reason, err)
	}
	if rss > 40<<20 {
		t.Errorf("peak RSS refusing an oversized mail = %.1f MB, want at most 40 MB", float64(rss)/(1<<20))
	}
}
