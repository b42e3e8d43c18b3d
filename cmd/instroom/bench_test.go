package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/segmentio/kafka-go"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/blob"
	"github.com/instroom/instroom/storage/bus"
)

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchMail is the ~20 KB mail of the benchmarks: 4 KB of Dutch text and a 14 KB
// attachment (ingesttest.BenchMail). With INSTROOM_BENCH_MAIL=synth it is the mail of
// the issue 11 measurements instead: ~0.5 KB of text and a 14 KB attachment (synthMail).
func benchMail(i int) []byte {
	if os.Getenv("INSTROOM_BENCH_MAIL") == "synth" {
		return synthMail(i, 14<<10)
	}
	return ingesttest.BenchMail(i)
}

// BenchmarkChain measures, in one run on the same servers (Dovecot, versitygw, a kfake
// broker), the raw limits of each server next to the IMAP -> S3 -> Kafka throughput of
// the worker, the CPU each process spends per mail in the chain (from /proc), and the
// latency from APPEND to the Kafka event while the worker idles.
//
//	go test ./cmd/instroom -run '^$' -bench Chain -benchtime 1x -timeout 40m -v
//
// The worker runs as its own process (the test binary acting as instroom, as the e2e
// tests run it). INSTROOM_BENCH_MAILS (default 5000) and INSTROOM_BENCH_WORKERS (workers
// per source, default 16) change the size of the run; INSTROOM_BENCH_CHECK_INTERVAL (for
// example 100ms) sets imap.check_interval; INSTROOM_BENCH_CPUPROFILE=FILE writes a CPU
// profile of the worker process during the chain phase.
func BenchmarkChain(b *testing.B) {
	mails := envInt("INSTROOM_BENCH_MAILS", 5000)
	workers := envInt("INSTROOM_BENCH_WORKERS", 16)
	st := newStack(b, false)
	sample := benchMail(0)
	objs := chainObjects(b, st, sample)
	b.Logf("mail size %d bytes, %d PUTs per mail (objects and the contact-index record), %d mails, %d workers per source", len(sample), len(objs), mails, workers)

	// Raw limit 1: Dovecot FETCH, bulk and one message per round trip.
	raw := make([][]byte, mails)
	for i := range raw {
		raw[i] = benchMail(100000 + i)
	}
	st.dovecot.Append(b, "belastingen", "Raw", raw...)
	fetchBulk, fetchEach := measureFetch(b, st, mails)

	// Raw limit 2: S3 PUTs of the same objects the chain stores, best concurrency.
	store, err := blob.NewS3(blob.S3Options{Endpoint: st.s3.Endpoint, Bucket: "instroom", Region: "us-east-1", PathStyle: true, Insecure: true, AccessKey: st.s3.AccessKey, SecretKey: st.s3.SecretKey})
	if err != nil {
		b.Fatal(err)
	}
	// Measured at 16 and at the chain's own concurrency (3 folders x workers), before and
	// after the chain; the best rate is the bound.
	concs := []int{16, 3 * workers}
	putRate := map[string]float64{}
	best := 0.0
	for _, c := range concs {
		r := measurePut(b, store, len(objs)*mails, c, objs, "before")
		putRate[fmt.Sprintf("before, %d concurrent", c)] = r
		best = max(best, r)
	}

	// Raw limit 3: Kafka produce with acks=all, two events per call as the worker sends.
	produce := measureProduce(b, st, 20000, 16)
	b.Logf("%s: raw limits measured; appending the backlog", time.Now().Format(time.TimeOnly))

	// The chain: the backlog of mails through the worker.
	for i := 0; i < mails; i++ {
		raw[i] = benchMail(i)
	}
	appendSpread(b, st, raw)
	b.Logf("%s: the chain starts", time.Now().Format(time.TimeOnly))
	b.ResetTimer()
	cpu, worker := runChain(b, st, mails, workers, raw[0])
	b.StopTimer()
	chain := float64(mails) / cpu.wall.Seconds()
	b.Logf("CPU per mail during the chain phase, from /proc (%d mails, %d workers per source; the items are mails):%s", mails, workers, cpu.table())

	for _, c := range concs {
		r := measurePut(b, store, len(objs)*mails, c, objs, "after")
		putRate[fmt.Sprintf("after, %d concurrent", c)] = r
		best = max(best, r)
	}

	// Latency from APPEND to the event while the worker idles.
	b.Logf("%s: the chain is done; measuring the latency", time.Now().Format(time.TimeOnly))
	lat := measureLatency(b, st, 200)
	worker.stop()

	bound := best / float64(len(objs))
	b.ReportMetric(chain, "mails/s")
	b.ReportMetric(chain/bound*100, "%of-s3-bound")
	b.ReportMetric(cpu.perItem(cpu.rows[0].seconds), "worker-cpu-ms/mail")
	b.ReportMetric(cpu.yardsticks(), "worker-cpu-yardsticks")
	b.ReportMetric(chain/cpu.ceiling()*100, "%of-cpu-ceiling")
	b.ReportMetric(fetchBulk, "fetch-bulk/s")
	b.ReportMetric(fetchEach, "fetch-each/s")
	b.ReportMetric(best, "s3-put/s")
	b.ReportMetric(produce, "kafka-produce/s")
	b.ReportMetric(float64(lat[0].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[1].Microseconds())/1000, "p99-ms")
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n| measure | result |\n| --- | --- |\n")
	fmt.Fprintf(&sb, "| Dovecot FETCH, bulk (one UID FETCH 1:*) | %.0f msg/s |\n", fetchBulk)
	fmt.Fprintf(&sb, "| Dovecot FETCH, one message per round trip | %.0f msg/s |\n", fetchEach)
	for _, when := range []string{"before", "after"} {
		for _, c := range concs {
			k := fmt.Sprintf("%s, %d concurrent", when, c)
			fmt.Fprintf(&sb, "| versitygw PUT of %d objects (%s the chain) | %.0f obj/s |\n", len(objs)*mails, k, putRate[k])
		}
	}
	fmt.Fprintf(&sb, "| %s produce, acks=all, 16 concurrent | %.0f msg/s |\n", st.kafka.Kind, produce)
	fmt.Fprintf(&sb, "| S3-bound limit (best PUT rate above / %d PUTs per mail) | %.0f mails/s |\n", len(objs), bound)
	fmt.Fprintf(&sb, "| **Instroom IMAP -> S3 -> Kafka, %d mails, %d workers/source** | **%.0f mails/s (%.0f%% of the S3 bound, %.0f%% of the CPU ceiling)** |\n", mails, workers, chain, chain/bound*100, chain/cpu.ceiling()*100)
	fmt.Fprintf(&sb, "| APPEND -> Kafka event while idle, p50 / p99 (200 mails) | %.0f ms / %.0f ms |\n", float64(lat[0].Microseconds())/1000, float64(lat[1].Microseconds())/1000)
	b.Log(sb.String())
}

func measureFetch(b *testing.B, st *stack, n int) (bulk, each float64) {
	c := st.dovecot.Client(b, "belastingen")
	defer c.Close()
	if _, err := c.Select("Raw", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	cmd := c.Fetch(goimap.SeqSet{goimap.SeqRange{Start: 1, Stop: 0}}, &goimap.FetchOptions{UID: true, BodySection: []*goimap.FetchItemBodySection{{Peek: true}}})
	got := drainFetch(b, cmd)
	if got != n {
		b.Fatalf("bulk fetch returned %d messages, want %d", got, n)
	}
	bulk = float64(n) / time.Since(start).Seconds()
	m := min(n, 2000)
	start = time.Now()
	for i := 1; i <= m; i++ {
		drainFetch(b, c.Fetch(goimap.UIDSetNum(goimap.UID(i)), &goimap.FetchOptions{UID: true, BodySection: []*goimap.FetchItemBodySection{{Peek: true}}}))
	}
	each = float64(m) / time.Since(start).Seconds()
	return bulk, each
}

// drainFetch reads every message of a FETCH, bodies included, and returns the count.
func drainFetch(b *testing.B, cmd *imapclient.FetchCommand) int {
	n := 0
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		for {
			it := msg.Next()
			if it == nil {
				break
			}
			if body, ok := it.(imapclient.FetchItemDataBodySection); ok && body.Literal != nil {
				io.Copy(io.Discard, body.Literal)
			}
		}
		n++
	}
	if err := cmd.Close(); err != nil {
		b.Fatal(err)
	}
	return n
}

// parallel runs fn for items 1..n with conc goroutines and returns items per second.
func parallel(b *testing.B, n, conc int, fn func(i int64) error) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if err := fn(i); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// measurePut PUTs n objects, the given bodies in turn, with conc clients.
func measurePut(b *testing.B, s *blob.S3, n, conc int, bodies [][]byte, tag string) float64 {
	return parallel(b, n, conc, func(i int64) error {
		part := bodies[int(i)%len(bodies)]
		return s.Put(context.Background(), fmt.Sprintf("raw/%s/%d/%d", tag, conc, i), bytes.NewReader(part), int64(len(part)), "application/octet-stream")
	})
}

// measureProduce publishes n messages, two per call as the worker does.
func measureProduce(b *testing.B, st *stack, n, conc int) float64 {
	k, err := bus.NewKafka(bus.KafkaOptions{Brokers: []string{st.kafka.Addr}, Compression: "lz4"})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	value := []byte(strings.Repeat("x", 2048))
	return 2 * parallel(b, n/2, conc, func(i int64) error {
		m := bus.Message{Topic: "bench", Key: fmt.Sprint(i), Value: value}
		return k.Publish(context.Background(), m, m)
	})
}

// measureLatency appends mails one at a time to the idle worker's folders and times each
// until its klantcontact event arrives. It returns p50 and p99.
func measureLatency(b *testing.B, st *stack, n int) [2]time.Duration {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{st.kafka.Addr}, Topic: "klantcontacten", GroupID: fmt.Sprintf("lat-%d", time.Now().UnixNano()),
		StartOffset: kafka.LastOffset, MaxWait: 5 * time.Millisecond, ReadBatchTimeout: 5 * time.Millisecond})
	defer r.Close()
	arrived := make(chan string, n)
	go func() {
		for {
			m, err := r.ReadMessage(context.Background())
			if err != nil {
				return
			}
			var reg ingest.Registration
			if json.Unmarshal(m.Value, &reg) == nil {
				arrived <- reg.Klantcontact.Metadata["messageId"]
			}
		}
	}()
	// Let the reader join its group and the worker settle into IDLE.
	warm := benchMail(900000)
	st.dovecot.Append(b, "info", "INBOX", warm)
	waitID(b, arrived, benchID(900000))
	time.Sleep(500 * time.Millisecond)
	// One open connection per account, so the measure is APPEND to event, not login.
	clients := map[string]*imapclient.Client{}
	for _, f := range folders {
		if clients[f.user] == nil {
			clients[f.user] = st.dovecot.Client(b, f.user)
			defer clients[f.user].Close()
		}
	}
	var lats []time.Duration
	for i := 0; i < n; i++ {
		f := folders[i%len(folders)]
		id := 910000 + i
		m := benchMail(id)
		t0 := time.Now()
		cmd := clients[f.user].Append(f.folder, int64(len(m)), nil)
		cmd.Write(m)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
		waitID(b, arrived, benchID(id))
		lats = append(lats, time.Since(t0))
		time.Sleep(20 * time.Millisecond)
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	return [2]time.Duration{lats[len(lats)*50/100], lats[len(lats)*99/100]}
}

func waitID(b *testing.B, arrived chan string, id string) {
	timeout := time.After(30 * time.Second)
	for {
		select {
		case got := <-arrived:
			if got == id {
				return
			}
		case <-timeout:
			b.Fatalf("event for %s did not arrive", id)
		}
	}
}
