package bus_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/bus"
)

type publisher interface {
	Publish(ctx context.Context, msgs ...bus.Message) error
}

func msg(topic, key, id, value string) bus.Message {
	return bus.Message{Topic: topic, Key: key, Value: []byte(value), Headers: []bus.Header{{Key: "ce_id", Value: id}, {Key: "ce_type", Value: "test"}}}
}

// testPublisher publishes a batch and concurrent single messages; read returns what a
// consumer of the topic sees.
func testPublisher(t *testing.T, p publisher, read func(topic string, n int) []bus.Message) {
	ctx := context.Background()
	batch := []bus.Message{msg("klantcontacten", "kc-1", "e1", `{"n":1}`), msg("internetaken", "kc-1", "e2", `{"n":2}`), msg("internetaken", "kc-1", "e3", `{"n":3}`)}
	if err := p.Publish(ctx, batch...); err != nil {
		t.Fatalf("Publish(batch) = %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- p.Publish(ctx, msg("klantcontacten", fmt.Sprintf("kc-%d", i+2), fmt.Sprintf("c%d", i), fmt.Sprintf(`{"n":%d}`, i)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Publish = %v", err)
		}
	}
	got := read("klantcontacten", 21)
	if len(got) != 21 {
		t.Fatalf("klantcontacten holds %d messages, want 21", len(got))
	}
	tasks := read("internetaken", 2)
	if len(tasks) != 2 || string(tasks[0].Value) != `{"n":2}` || string(tasks[1].Value) != `{"n":3}` || tasks[0].Key != "kc-1" {
		t.Errorf("internetaken = %+v, want the two task events in order with key kc-1", tasks)
	}
	h := map[string]string{}
	for _, kv := range tasks[0].Headers {
		h[kv.Key] = kv.Value
	}
	if h["ce_id"] != "e2" || h["ce_type"] != "test" {
		t.Errorf("headers = %v, want ce_id e2 and ce_type test", h)
	}
}

func TestContractLog(t *testing.T) {
	l, err := bus.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	testPublisher(t, l, func(topic string, n int) []bus.Message {
		recs, err := bus.ReadAll(l.Path(topic))
		if err != nil {
			t.Fatal(err)
		}
		var out []bus.Message
		for _, r := range recs {
			m := bus.Message{Topic: r.Topic, Key: r.Key, Value: r.Value}
			for k, v := range r.Headers {
				m.Headers = append(m.Headers, bus.Header{Key: k, Value: v})
			}
			out = append(out, m)
		}
		return out
	})
}

// consume reads n messages of a topic from the start with a kafka-go consumer group.
func consume(t *testing.T, brokers []string, topic string, n int, dialer *kafka.Dialer) []bus.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, GroupID: "test-" + topic + fmt.Sprint(time.Now().UnixNano()),
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond, Dialer: dialer})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []bus.Message
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("reading %s after %d messages: %v", topic, len(out), err)
		}
		bm := bus.Message{Topic: m.Topic, Key: string(m.Key), Value: m.Value}
		for _, h := range m.Headers {
			bm.Headers = append(bm.Headers, bus.Header{Key: h.Key, Value: string(h.Value)})
		}
		out = append(out, bm)
	}
	// Partition order is kept per key; sort by arrival within the test's expectations.
	return out
}

func TestContractKafka(t *testing.T) {
	k := ingesttest.StartBroker(t, ingesttest.KafkaOptions{Topics: []string{"klantcontacten", "internetaken"}})
	p, err := bus.NewKafka(bus.KafkaOptions{Brokers: []string{k.Addr}, Compression: "zstd"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Check(context.Background(), "klantcontacten", "internetaken"); err != nil {
		t.Fatalf("Check = %v", err)
	}
	testPublisher(t, p, func(topic string, n int) []bus.Message { return consume(t, []string{k.Addr}, topic, n, nil) })
}

func TestKafkaSASL(t *testing.T) {
	k := ingesttest.StartKafka(t, ingesttest.KafkaOptions{Topics: []string{"klantcontacten"}, SASLUser: "instroom", SASLPass: "geheim"})
	ctx := context.Background()
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-512"} {
		p, err := bus.NewKafka(bus.KafkaOptions{Brokers: []string{k.Addr}, SASLMechanism: mech, Username: "instroom", Password: "geheim"})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Publish(ctx, msg("klantcontacten", "k", "e-"+mech, `{}`)); err != nil {
			t.Errorf("Publish with SASL %s = %v", mech, err)
		}
		p.Close()
		bad, _ := bus.NewKafka(bus.KafkaOptions{Brokers: []string{k.Addr}, SASLMechanism: mech, Username: "instroom", Password: "fout", WriteTimeout: 3 * time.Second})
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = bad.Check(cctx)
		cancel()
		if err == nil || strings.Contains(err.Error(), "fout") {
			t.Errorf("Check with a wrong %s password = %v, want an error without the password", mech, err)
		}
		bad.Close()
	}
}

func TestKafkaMissingTopic(t *testing.T) {
	k := ingesttest.StartBroker(t, ingesttest.KafkaOptions{Topics: []string{"klantcontacten"}})
	p, _ := bus.NewKafka(bus.KafkaOptions{Brokers: []string{k.Addr}})
	defer p.Close()
	if err := p.Check(context.Background(), "klantcontacten", "bestaat-niet"); !errors.Is(err, bus.ErrNoTopic) {
		t.Errorf("Check(missing topic) = %v, want ErrNoTopic", err)
	}
}

func TestKafkaTooLargeIsReported(t *testing.T) {
	k := ingesttest.StartBroker(t, ingesttest.KafkaOptions{Topics: []string{"klantcontacten"}})
	p, _ := bus.NewKafka(bus.KafkaOptions{Brokers: []string{k.Addr}})
	defer p.Close()
	huge := strings.Repeat("x", 20<<20)
	err := p.Publish(context.Background(), msg("klantcontacten", "k", "big", huge))
	if !errors.Is(err, bus.ErrTooLarge) {
		t.Errorf("Publish(20 MiB) = %v, want ErrTooLarge", err)
	}
}

func TestKafkaTLS(t *testing.T) {
	ca := ingesttest.NewTestCA(t, t.TempDir())
	k := ingesttest.StartKafka(t, ingesttest.KafkaOptions{Topics: []string{"klantcontacten"}, CA: ca})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, _ := bus.NewKafka(bus.KafkaOptions{Brokers: []string{k.Addr}, TLS: ingesttest.ClientTLS(ca)})
	defer p.Close()
	if err := p.Publish(ctx, msg("klantcontacten", "k", "tls", `{}`)); err != nil {
		t.Fatalf("Publish over TLS = %v", err)
	}
	untrusted, _ := bus.NewKafka(bus.KafkaOptions{Brokers: []string{k.Addr}, TLS: &tls.Config{}})
	defer untrusted.Close()
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
	defer ccancel()
	if err := untrusted.Check(cctx, "klantcontacten"); err == nil {
		t.Error("Check without the custom CA = nil, want a certificate error")
	}
}

// TestOneKlantcontactOnePartition: events with the same key land in the same partition,
// across topics with the same partition count, so a consumer sees one contact in order.
func TestOneKlantcontactOnePartition(t *testing.T) {
	k := ingesttest.StartBroker(t, ingesttest.KafkaOptions{Topics: []string{"klantcontacten", "internetaken"}})
	p, _ := bus.NewKafka(bus.KafkaOptions{Brokers: []string{k.Addr}})
	defer p.Close()
	ctx := context.Background()
	var batch []bus.Message
	for i := range 30 {
		key := fmt.Sprintf("kc-%d", i%10)
		batch = append(batch, msg("klantcontacten", key, fmt.Sprint("a", i), `{}`), msg("internetaken", key, fmt.Sprint("b", i), `{}`))
	}
	if err := p.Publish(ctx, batch...); err != nil {
		t.Fatal(err)
	}
	part := map[string]int{}
	used := map[int]bool{}
	for _, topic := range []string{"klantcontacten", "internetaken"} {
		for pn := 0; pn < 3; pn++ {
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{k.Addr}, Topic: topic, Partition: pn, MaxWait: 50 * time.Millisecond})
			r.SetOffset(kafka.FirstOffset)
			for {
				cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				m, err := r.ReadMessage(cctx)
				cancel()
				if err != nil {
					break
				}
				if prev, ok := part[string(m.Key)]; ok && prev != m.Partition {
					t.Errorf("key %s in partitions %d and %d", m.Key, prev, m.Partition)
				}
				part[string(m.Key)] = m.Partition
				used[m.Partition] = true
			}
			r.Close()
		}
	}
	if len(part) != 10 || len(used) < 2 {
		t.Errorf("saw %d keys over %d partitions; want 10 keys spread over several partitions", len(part), len(used))
	}
}
