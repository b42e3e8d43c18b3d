package ingesttest_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/instroom/instroom/ingest/ingesttest"
)

// TestBrokerRestartKeepsData: both kinds of broker come back after Stop on the same
// address with every acknowledged record, and with the topics' partitions.
func TestBrokerRestartKeepsData(t *testing.T) {
	for _, kind := range []string{ingesttest.BrokerApache, ingesttest.BrokerKfake} {
		t.Run(kind, func(t *testing.T) {
			t.Setenv("INGESTTEST_BROKER", kind)
			b := ingesttest.StartBroker(t, ingesttest.KafkaOptions{Topics: []string{"a", "b"}, Partitions: 2, DataDir: t.TempDir()})
			if b.Kind != kind {
				t.Fatalf("Kind = %q, want %q", b.Kind, kind)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			produce(ctx, t, b.Addr, "a", 0, 50)
			addr := b.Addr
			t0 := time.Now()
			b.Stop()
			t.Logf("stopped in %v", time.Since(t0).Round(time.Millisecond))
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Fatalf("%s still accepts connections after Stop", addr)
			}
			if err := b.Start(); err != nil {
				t.Fatal(err)
			}
			t.Logf("stop and start took %v", time.Since(t0).Round(time.Millisecond))
			if b.Addr != addr {
				t.Fatalf("Addr after Start = %s, want %s", b.Addr, addr)
			}
			produce(ctx, t, b.Addr, "a", 50, 50)
			got := map[string]bool{}
			parts := map[int]bool{}
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Addr}, Topic: "a", GroupID: "check", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
			defer r.Close()
			for len(got) < 100 {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					t.Fatalf("after %d of 100 records: %v", len(got), err)
				}
				got[string(m.Value)] = true
				parts[m.Partition] = true
			}
			t.Logf("produced and consumed in %v", time.Since(t0).Round(time.Millisecond))
			if len(parts) != 2 {
				t.Errorf("records in partitions %v, want 2 partitions", parts)
			}
		})
	}
}

// produce writes n records with acks from all in-sync replicas, retrying while the broker
// is still settling after a start.
func produce(ctx context.Context, t *testing.T, addr, topic string, from, n int) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, RequiredAcks: kafka.RequireAll, Balancer: &kafka.RoundRobin{}, BatchTimeout: time.Millisecond}
	defer w.Close()
	var msgs []kafka.Message
	for i := from; i < from+n; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint("v", i))})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("producing to %s: %v", addr, err)
	}
}
