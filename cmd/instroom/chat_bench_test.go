package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/instroom/instroom/config"
	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/blob"
)

// benchGesprek returns the contract's example c1242 with gesprekId id.
func benchGesprek(tmpl []byte, id string) []byte {
	return bytes.Replace(tmpl, []byte(`"gsp-2024-03-12-8f3a1c"`), []byte(`"`+id+`"`), 1)
}

// pushAll pushes n transcripts with 8 clients and returns the latency of each accepted one.
func pushAll(b *testing.B, base, token, secret string, tmpl []byte, n int) []time.Duration {
	const clients = 8
	var mu sync.Mutex
	var lat []time.Duration
	next := make(chan int)
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	for range clients {
		wg.Go(func() {
			for i := range next {
				id := fmt.Sprintf("bench-%07d", i)
				body := benchGesprek(tmpl, id)
				start := time.Now()
				resp, err := pushGesprek(client, base, token, secret, "msg_"+id, body)
				if err != nil {
					b.Error(err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(start)
				if resp.StatusCode != http.StatusAccepted {
					b.Errorf("push %s = %d", id, resp.StatusCode)
					continue
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return lat
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkGesprekPush measures transcripts accepted durably by POST /v1/gesprekken (the
// contract's example c1242, about 1.5 KB, validated against gesprek.schema.json and
// written and fsynced into a directory drop zone before the 202), with 8 clients at once
// over loopback, unsigned and signed (Standard Webhooks), and the p50/p99 latency:
//
//	go test ./cmd/instroom -run '^$' -bench GesprekPush -benchtime 2000x
func BenchmarkGesprekPush(b *testing.B) {
	for _, signed := range []bool{false, true} {
		name := "unsigned"
		if signed {
			name = "signed"
		}
		b.Run(name, func(b *testing.B) { benchGesprekPush(b, signed) })
	}
}

func benchGesprekPush(b *testing.B, signed bool) {
	dir := b.TempDir()
	token := "bench-token-chatleverancier-0123456789abcdef0123456789abcdef"
	sum := sha256.Sum256([]byte(token))
	secrets, secret := "", ""
	if signed {
		secret = chatE2ESecret
		secrets = ", webhook_secrets: [" + secret + "]"
	}
	cfg := fmt.Sprintf("data_dir: data\nintake:\n  listen: 127.0.0.1:0\n  vendors:\n    chatleverancier: {channels: [chat], token_sha256: [%s], rate: 100000, burst: 100000%s}\nsources:\n  - {name: gesprekken, type: dir, channel: chat, path: gesprekken}\n", hex.EncodeToString(sum[:]), secrets)
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
	tmpl := chatExample(b, "gesprek-c1242-beantwoord.json")
	b.ResetTimer()
	lat := pushAll(b, "http://"+srv.Addr().String(), token, secret, tmpl, b.N)
	b.StopTimer()
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "gesprekken/s")
	reportLatency(b, lat)
}

// BenchmarkGesprekEndToEnd measures transcripts pushed over HTTP into an S3 drop zone
// (versitygw) and processed end to end (transcript JSON and text stored in S3, the
// klantcontact event acknowledged by a kfake broker, the item moved to processed/), next
// to the raw S3 PUT rate of the same objects (8 clients) measured in the same run:
//
//	go test ./cmd/instroom -run '^$' -bench GesprekEndToEnd -benchtime 500x
func BenchmarkGesprekEndToEnd(b *testing.B) {
	s3 := ingesttest.StartS3(b, nil)
	s3.CreateBucket(b, "instroom")
	s3.CreateBucket(b, "aanlevering")
	k := ingesttest.StartKafka(b, ingesttest.KafkaOptions{Topics: []string{"klantcontacten", "internetaken", "instroom.deadletter"}})
	opts := blob.S3Options{Endpoint: s3.Endpoint, Bucket: "aanlevering", PathStyle: true, Insecure: true, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey}
	zone, err := blob.NewS3(opts)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := chatExample(b, "gesprek-c1242-beantwoord.json")
	ctx := context.Background()

	// The raw S3 PUT rate of the same objects, 8 clients.
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				body := benchGesprek(tmpl, fmt.Sprintf("raw-%07d", i))
				if err := zone.Put(ctx, fmt.Sprintf("raw/chatleverancier/raw-%07d.json", i), bytes.NewReader(body), int64(len(body)), "application/json"); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	rawRate := float64(b.N) / time.Since(start).Seconds()

	dir := b.TempDir()
	token := "bench-token-chatleverancier-0123456789abcdef0123456789abcdef"
	sum := sha256.Sum256([]byte(token))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	s3Conn := fmt.Sprintf("{endpoint: %s, bucket: %%s, path_style: true, insecure: true, access_key: %s, secret_key: %s}", s3.Endpoint, s3.AccessKey, s3.SecretKey)
	cfg := filepath.Join(dir, "chat.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: data
log: {level: warn}
intake:
  listen: %s
  vendors:
    chatleverancier: {channels: [chat], token_sha256: [%s], rate: 100000, burst: 100000}
storage:
  blobs: {type: s3, s3: %s}
  events: {type: kafka, kafka: {brokers: [%s]}}
sources:
  - {name: gesprekken, type: s3, channel: chat, prefix: gesprekken, min_age: -1s, poll_interval: 50ms, workers: 8, s3: %s}
`, addr, hex.EncodeToString(sum[:]), fmt.Sprintf(s3Conn, "instroom"), k.Addr, fmt.Sprintf(s3Conn, "aanlevering"))), 0o644)

	rctx, cancel := context.WithCancel(ctx)
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() { done <- run(rctx, []string{"run", "-config", cfg}, io.Discard, &errb, nil) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			b.Errorf("worker exit %d:\n%s", code, tail(errb.String(), 3000))
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the intake API did not come up:\n%s", tail(errb.String(), 3000))
		}
	}
	b.ResetTimer()
	start = time.Now()
	lat := pushAll(b, "http://"+addr, token, "", tmpl, b.N)
	accepted := time.Since(start)
	for i, deadline := 0, time.Now().Add(10*time.Minute); i < b.N; {
		if processed(ctx, zone, fmt.Sprintf("bench-%07d", i)) {
			i++
			continue
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d processed:\n%s", i, b.N, tail(errb.String(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(rawRate, "raw-s3-puts/s") // after ResetTimer, which drops reported metrics
	b.ReportMetric(float64(len(lat))/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gesprekken/s")
	reportLatency(b, lat)
}

// processed reports whether transcript id is in processed/ of the S3 drop zone.
func processed(ctx context.Context, zone *blob.S3, id string) bool {
	rc, err := zone.Get(ctx, "gesprekken/chatleverancier/processed/"+id+".json")
	if err != nil {
		return false
	}
	rc.Close()
	return true
}
