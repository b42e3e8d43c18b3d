package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/instroom/instroom/config"
)

// BenchmarkPush measures letters accepted durably by POST /v1/brieven (a 1-page PDF and its
// sidecar written and fsynced into a directory drop zone before the 202), with 8 clients
// at once over loopback, and the p50/p99 latency of one push:
//
//	go test ./cmd/instroom -run '^$' -bench Push -benchtime 2000x
func BenchmarkPush(b *testing.B) {
	dir := b.TempDir()
	token := "bench-token-scanstraat-0123456789abcdef0123456789abcdef"
	sum := sha256.Sum256([]byte(token))
	cfg := fmt.Sprintf("data_dir: data\nintake:\n  listen: 127.0.0.1:0\n  vendors:\n    scanstraat: {channels: [brief], token_sha256: [%s], rate: 100000, burst: 100000}\nsources:\n  - {name: brieven, type: dir, channel: brief, path: brieven}\n", hex.EncodeToString(sum[:]))
	c, err := config.Parse([]byte(cfg), dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	cs, err := setupChannels(c, channelEnv(c, log, false, false))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := newStreams(context.Background(), c, cs, false); err != nil { // opens the drop zone
		b.Fatal(err)
	}
	srv, err := serveIntake(context.Background(), c, cs, log, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.stop(context.Background())
	base := "http://" + srv.Addr().String()
	scan, err := os.ReadFile(filepath.Join("../../channels/brief/testdata", "SCAN-20240312-000123.pdf"))
	if err != nil {
		b.Fatal(err)
	}
	const clients = 8
	var mu sync.Mutex
	var lat []time.Duration
	next := make(chan int)
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	b.ResetTimer()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				id := fmt.Sprintf("BENCH-%07d", i)
				side := []byte(fmt.Sprintf(`{"scanId":%q,"gescandOp":"2026-11-20T09:00:00+01:00","bestand":"%s.pdf","onderwerp":"Bezwaar","ocrTekst":"Geachte heer, mevrouw"}`, id, id))
				var body bytes.Buffer
				mw := multipartLetter(&body, side, scan, id+".pdf")
				req, _ := http.NewRequest(http.MethodPost, base+"/v1/brieven", &body)
				req.Header.Set("Content-Type", mw)
				req.Header.Set("Authorization", "Bearer "+token)
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(start)
				if resp.StatusCode != http.StatusAccepted {
					b.Errorf("push %s = %d", id, resp.StatusCode)
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "pushes/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// multipartLetter writes a POST /v1/brieven body and returns its Content-Type.
func multipartLetter(w io.Writer, sidecar, scan []byte, bestand string) string {
	var body bytes.Buffer
	boundary := "instroom-bench-grens"
	fmt.Fprintf(&body, "--%s\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n%s\r\n", boundary, sidecar)
	fmt.Fprintf(&body, "--%s\r\nContent-Disposition: form-data; name=\"scan\"; filename=\"%s\"\r\nContent-Type: application/pdf\r\n\r\n", boundary, bestand)
	body.Write(scan)
	fmt.Fprintf(&body, "\r\n--%s--\r\n", boundary)
	w.Write(body.Bytes())
	return "multipart/form-data; boundary=" + boundary
}
