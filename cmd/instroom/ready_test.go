package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/dropzone"
)

type readyBody struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// readyz asks /readyz; ok is false while the endpoint does not answer.
func readyz(t *testing.T, addr string) (int, readyBody, bool) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, readyBody{}, false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var rb readyBody
	if err := json.Unmarshal(b, &rb); err != nil {
		t.Fatalf("/readyz body %q: %v", b, err)
	}
	if (resp.StatusCode == http.StatusOK) != rb.Ready {
		t.Fatalf("/readyz = %d with ready %v", resp.StatusCode, rb.Ready)
	}
	return resp.StatusCode, rb, true
}

// startWorker runs instroom in this process with the config body (ops on a free port)
// and returns the ops address. The worker stops at the end of the test.
func startReadyWorker(t *testing.T, dir, body string) string {
	t.Helper()
	addr := freeAddr(t)
	cfg := filepath.Join(dir, "instroom.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir: data\nops: {listen: %q}\n%s", addr, body)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan int)
	go func() { done <- run(ctx, []string{"run", "-config", cfg}, io.Discard, logs, nil) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("run = exit %d: %s", code, tail(logs.String(), 2000))
		}
	})
	return addr
}

// waitReady polls /readyz until want holds for its answer (generous deadline).
func waitReady(t *testing.T, addr, what string, want func(int, readyBody) bool) readyBody {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last readyBody
	for time.Now().Before(deadline) {
		code, rb, ok := readyz(t, addr)
		if ok && want(code, rb) {
			return rb
		}
		last = rb
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last /readyz: %+v", what, last)
	return last
}

func writeMail(t *testing.T, dir, name string) {
	t.Helper()
	b, err := os.ReadFile("../../channels/mail/testdata/01-plain.eml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReadyLocal: with the default local storage (directory blobs, log events) the worker
// is ready once its sources were read, an empty one included.
func TestReadyLocal(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"mail", "leeg"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	writeMail(t, filepath.Join(dir, "mail"), "a.eml")
	addr := startReadyWorker(t, dir, `sources:
  - {name: mail, type: dir, path: mail, min_age: -1s}
  - {name: leeg, type: dir, path: leeg, min_age: -1s}
`)
	rb := waitReady(t, addr, "ready", func(code int, rb readyBody) bool { return code == http.StatusOK })
	want := map[string]string{"blobs": "ok", "events": "ok", "source:mail": "ok", "source:leeg": "ok"}
	if fmt.Sprint(rb.Checks) != fmt.Sprint(want) {
		t.Errorf("/readyz checks = %v, want %v", rb.Checks, want)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz = %v, %v", resp, err)
	}
	resp.Body.Close()
}

// TestReadyS3Outage: with S3 blobs, /readyz answers 503 naming "blobs" while the S3
// server is stopped, and is ready again once it is back.
func TestReadyS3Outage(t *testing.T) {
	s3 := ingesttest.StartS3(t, nil)
	s3.CreateBucket(t, "instroom")
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "mail"), 0o755)
	addr := startReadyWorker(t, dir, fmt.Sprintf(`sources:
  - {name: mail, type: dir, path: mail, min_age: -1s}
storage:
  blobs:
    type: s3
    s3: {endpoint: %s, bucket: instroom, path_style: true, insecure: true, access_key: %s, secret_key: %s}
`, s3.Endpoint, s3.AccessKey, s3.SecretKey))
	waitReady(t, addr, "ready", func(code int, _ readyBody) bool { return code == http.StatusOK })

	s3.Stop()
	rb := waitReady(t, addr, "blobs unreachable", func(code int, rb readyBody) bool {
		return code == http.StatusServiceUnavailable && rb.Checks["blobs"] == "unreachable"
	})
	if rb.Checks["events"] != "ok" || rb.Checks["source:mail"] != "ok" {
		t.Errorf("checks during the S3 outage = %v, want only blobs failing", rb.Checks)
	}
	if err := s3.Start(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, addr, "ready again", func(code int, rb readyBody) bool {
		return code == http.StatusOK && rb.Checks["blobs"] == "ok"
	})
}

// value reads a counter's or gauge's value.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

func TestDeadLetterCounter(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry())
	m.ItemDone("inbox", "email", "ok", "", time.Millisecond)
	m.ItemDone("inbox", "email", "temporary", "", time.Millisecond)
	m.ItemDone("inbox", "email", "permanent", "unparseable", time.Millisecond)
	m.ItemDone("inbox", "email", "permanent", "unparseable", time.Millisecond)
	m.ItemDone("inbox", "email", "permanent", "too_large", time.Millisecond)
	for _, tc := range []struct {
		reason string
		want   float64
	}{{"unparseable", 2}, {"too_large", 1}, {"", 0}} {
		if got := value(t, m.deadLetters.WithLabelValues("inbox", "email", tc.reason)); got != tc.want {
			t.Errorf("dead letters(%q) = %v, want %v", tc.reason, got, tc.want)
		}
	}
}

func TestOCRMetrics(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry())
	var env ingest.ChannelMetrics = m
	env.OCRPage("ok", time.Second)
	env.OCRPage("failed", time.Second)
	env.OCRPage("too_large", 0)
	for _, o := range []string{"ok", "failed", "too_large"} {
		if got := value(t, m.ocrPages.WithLabelValues(o)); got != 1 {
			t.Errorf("ocr pages(%s) = %v, want 1", o, got)
		}
	}
	var h dto.Metric
	if err := m.ocrSeconds.Write(&h); err != nil || h.GetHistogram().GetSampleCount() != 2 {
		t.Errorf("ocr seconds samples = %d (%v), want 2 (a page too large took no OCR time)", h.GetHistogram().GetSampleCount(), err)
	}
}

// TestOldestWaiting: DropSource.Oldest over a directory zone follows the queued and
// in-flight items, and the watcher turns it into the gauge.
func TestOldestWaiting(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	t1, t2 := now.Add(-2*time.Hour).Truncate(time.Second), now.Add(-time.Hour).Truncate(time.Second)
	for name, mod := range map[string]time.Time{"a.eml": t1, "b.eml": t2} {
		writeMail(t, dir, name)
		if err := os.Chtimes(filepath.Join(dir, name), mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	zone, err := dropzone.NewDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := ingest.NewDropSource(zone, &ingest.DropSourceOptions{Once: true})
	if _, ok := src.Oldest(); ok {
		t.Error("Oldest before any listing = ok, want none known")
	}
	if _, known := src.Reachable(); known {
		t.Error("Reachable before any listing is known")
	}
	ctx := context.Background()
	check := func(step string, want time.Time) {
		t.Helper()
		got, ok := src.Oldest()
		if ok != !want.IsZero() || !got.Equal(want) {
			t.Errorf("%s: Oldest() = %v, %v, want %v", step, got, ok, want)
		}
	}
	item, ack, err := src.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if up, known := src.Reachable(); !up || !known {
		t.Errorf("Reachable after a listing = %v, %v, want up", up, known)
	}
	check("first in flight, second queued", t1)

	m := newMetrics(prometheus.NewRegistry())
	w := &watcher{ready: newReadiness(), metrics: m, streams: []ingest.Stream{{Name: "drop", Source: src}}, timeout: time.Second}
	w.once(ctx)
	if got := value(t, m.oldestWaiting.WithLabelValues("drop")); got < now.Sub(t1).Seconds() {
		t.Errorf("oldest waiting gauge = %v, want at least %v", got, now.Sub(t1).Seconds())
	}

	if err := ack(ctx, nil); err != nil || item.Ref != "a.eml" {
		t.Fatalf("ack %s: %v", item.Ref, err)
	}
	check("second queued", t2)
	_, ack, err = src.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("second in flight", t2)
	if err := ack(ctx, nil); err != nil {
		t.Fatal(err)
	}
	check("none left", time.Time{})
	w.once(ctx)
	if got := value(t, m.oldestWaiting.WithLabelValues("drop")); got != 0 {
		t.Errorf("oldest waiting gauge with nothing waiting = %v, want 0", got)
	}
}

// expiringSource is a source whose login token expires at exp.
type expiringSource struct {
	ingest.Source
	exp time.Time
}

func (s expiringSource) TokenExpiry() (time.Time, bool) { return s.exp, true }

func TestTokenExpiryGauge(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry())
	exp := time.Now().Add(time.Hour)
	w := &watcher{ready: newReadiness(), metrics: m, streams: []ingest.Stream{{Name: "info.INBOX", Source: expiringSource{exp: exp}}}, timeout: time.Second}
	w.once(context.Background())
	if got := value(t, m.tokenExpiry.WithLabelValues("info.INBOX")); got <= 0 || got > time.Hour.Seconds() {
		t.Errorf("token expiry gauge = %v, want within the hour", got)
	}
}
