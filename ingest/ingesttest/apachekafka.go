package ingesttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// Broker kinds.
const (
	BrokerApache = "apache" // a real Apache Kafka 4.x broker (scripts/kafka/kafka.sh)
	BrokerKfake  = "kfake"  // franz-go's kfake as its own process (scripts/kfake)
)

// Broker is a Kafka broker for a test: a real Apache Kafka or kfake, used the same way.
// Stop and Start take it down and bring it back on the same address; Apache Kafka always
// keeps its data across that, kfake only with KafkaOptions.DataDir.
type Broker struct {
	Addr string
	Kind string // BrokerApache or BrokerKfake
	// Apache is the Apache Kafka broker (nil for kfake).
	Apache *ApacheKafka
	// Kfake is the kfake broker (nil for Apache Kafka).
	Kfake *Kafka
}

// Stop stops the broker; Start brings it back.
func (b *Broker) Stop() {
	if b.Apache != nil {
		b.Apache.Stop()
		return
	}
	b.Kfake.Stop()
}

// Start starts the broker again on the same address (after Stop).
func (b *Broker) Start() error {
	if b.Apache != nil {
		return b.Apache.Start()
	}
	return b.Kfake.Start()
}

// BrokerKind is the broker StartBroker starts: INGESTTEST_BROKER (apache or kfake) when
// set, else Apache Kafka under CI=true and kfake for quick local runs.
func BrokerKind() string {
	switch k := os.Getenv("INGESTTEST_BROKER"); k {
	case BrokerApache, BrokerKfake:
		return k
	}
	if InCI() {
		return BrokerApache
	}
	return BrokerKfake
}

// StartBroker starts the broker BrokerKind names, with opts.Topics created (opts.Partitions
// each). SASL and TLS are kfake's only: with those options it fails on Apache Kafka.
func StartBroker(t testing.TB, opts KafkaOptions) *Broker {
	t.Helper()
	if BrokerKind() == BrokerKfake {
		k := StartKafka(t, opts)
		return &Broker{Addr: k.Addr, Kind: BrokerKfake, Kfake: k}
	}
	if opts.SASLUser != "" || opts.CA != nil {
		t.Fatal("StartBroker: SASL and TLS brokers are kfake's only; use StartKafka")
	}
	k := StartApacheKafka(t, opts)
	return &Broker{Addr: k.Addr, Kind: BrokerApache, Apache: k}
}

// ApacheKafka is a real Apache Kafka broker (one KRaft node, broker and controller) run
// from the Maven Central jars by scripts/kafka/kafka.sh, in a directory of the test's.
type ApacheKafka struct {
	Addr string
	Dir  string // kafka.sh's directory: config, data/, kafka.log
	// StartTook is how long the last start took: format and start the first time, a
	// restart on the same data after that.
	StartTook time.Duration

	t      testing.TB
	script string
	mu     sync.Mutex
	up     bool
}

var (
	apacheOnce   sync.Once
	apacheScript string
	apacheErr    error
)

// apacheKafkaScript returns scripts/kafka/kafka.sh once `kafka.sh check` found the jars
// and a java that runs them. Locally a missing one skips the test; under CI=true it fails.
func apacheKafkaScript(t testing.TB) string {
	t.Helper()
	apacheOnce.Do(func() {
		script, err := repoDir("scripts/kafka/kafka.sh")
		if err != nil {
			apacheErr = err
			return
		}
		var stderr bytes.Buffer
		cmd := exec.Command("bash", script, "check")
		cmd.Stderr = &stderr
		if _, err := cmd.Output(); err != nil {
			apacheErr = fmt.Errorf("kafka.sh check: %v: %s", err, strings.TrimSpace(stderr.String()))
			return
		}
		apacheScript = script
	})
	if apacheErr != nil {
		if InCI() {
			t.Fatalf("Apache Kafka: %v; .ci/run must fetch the jars (scripts/kafka/kafka.sh fetch)", apacheErr)
		}
		logSkip(t, "Apache Kafka (java and the jars of scripts/kafka/kafka.sh fetch)")
		t.Skipf("Apache Kafka: %v; skipping (CI=true makes this a failure)", apacheErr)
	}
	return apacheScript
}

// StartApacheKafka starts a real Apache Kafka broker in opts.DataDir (default: a
// temporary directory) and creates opts.Topics. It is stopped when the test ends, and by
// kafka.sh itself when the test process dies.
func StartApacheKafka(t testing.TB, opts KafkaOptions) *ApacheKafka {
	t.Helper()
	k := &ApacheKafka{t: t, script: apacheKafkaScript(t), Dir: opts.DataDir}
	if k.Dir == "" {
		k.Dir = t.TempDir()
	}
	t.Cleanup(func() {
		k.Stop()
		if t.Failed() {
			t.Logf("Apache Kafka log (tail):\n%s", tail(k.Log(), 3000))
		}
	})
	if err := k.run("start", false); err != nil {
		t.Fatal(err)
	}
	t.Logf("Apache Kafka at %s ready in %v (format+start)", k.Addr, k.StartTook.Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if len(opts.Topics) > 0 {
		parts := opts.Partitions
		if parts == 0 {
			parts = 3
		}
		if err := CreateTopics(ctx, k.Addr, parts, opts.Topics...); err != nil {
			t.Fatal(err)
		}
	}
	if err := groupCoordinatorReady(ctx, k.Addr); err != nil {
		t.Fatal(err)
	}
	return k
}

// groupCoordinatorReady waits until the broker's group coordinator answers: the first
// FindCoordinator creates __consumer_offsets, then OffsetFetch says "group load in
// progress" until its partition is loaded. A kafka-go consumer group that meets either
// waits its JoinGroupBackoff (5 s) before it tries again.
func groupCoordinatorReady(ctx context.Context, addr string) error {
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	for {
		var err error
		res, ferr := c.FindCoordinator(ctx, &kafka.FindCoordinatorRequest{Key: "ingesttest", KeyType: kafka.CoordinatorKeyTypeConsumer})
		switch {
		case ferr != nil:
			err = ferr
		case res.Error != nil:
			err = res.Error
		default:
			off, oerr := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: "ingesttest"})
			if oerr == nil && !errors.Is(off.Error, kafka.GroupLoadInProgress) && !errors.Is(off.Error, kafka.GroupCoordinatorNotAvailable) &&
				!errors.Is(off.Error, kafka.NotCoordinatorForGroup) {
				return nil
			}
			if err = oerr; err == nil {
				err = off.Error
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no group coordinator: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// run runs kafka.sh start (keep: on the same data and ports) and records the address.
func (k *ApacheKafka) run(verb string, keep bool) error {
	cmd := exec.Command("bash", k.script, verb, k.Dir)
	cmd.Env = append(os.Environ(), fmt.Sprintf("KAFKA_WATCH_PID=%d", os.Getpid()))
	if keep {
		cmd.Env = append(cmd.Env, "KAFKA_KEEP_DATA=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("kafka.sh %s: %v\n%s", verb, err, stderr.String())
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "KAFKA_ADDR=")
	if !ok {
		return fmt.Errorf("kafka.sh %s printed %q, want KAFKA_ADDR=host:port", verb, out)
	}
	if keep && addr != k.Addr {
		return fmt.Errorf("kafka.sh %s: broker came back on %s, want %s", verb, addr, k.Addr)
	}
	k.mu.Lock()
	k.Addr, k.up, k.StartTook = addr, true, time.Since(t0)
	k.mu.Unlock()
	return nil
}

// Stop stops the broker (SIGTERM, a controlled shutdown) and waits until it has exited.
func (k *ApacheKafka) Stop() {
	k.mu.Lock()
	up := k.up
	k.up = false
	k.mu.Unlock()
	if !up {
		return
	}
	if out, err := exec.Command("bash", k.script, "stop", k.Dir).CombinedOutput(); err != nil {
		k.t.Errorf("kafka.sh stop: %v\n%s", err, out)
	}
}

// Start starts the broker again after Stop: same address, same data.
func (k *ApacheKafka) Start() error {
	return k.run("start", true)
}

// Log returns the broker's log of its current run.
func (k *ApacheKafka) Log() string {
	b, _ := os.ReadFile(filepath.Join(k.Dir, "kafka.log"))
	return string(b)
}

// CreateTopics creates topics with parts partitions each (an existing topic is left as it
// is) and waits until every partition has a leader.
func CreateTopics(ctx context.Context, addr string, parts int, topics ...string) error {
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 30 * time.Second}
	req := &kafka.CreateTopicsRequest{}
	for _, tp := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: tp, NumPartitions: parts, ReplicationFactor: 1})
	}
	res, err := c.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("creating topics: %w", err)
	}
	for tp, e := range res.Errors {
		if e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", tp, e)
		}
	}
	for {
		md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
		if err == nil && topicsReady(md, len(topics)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics %v without leaders: %w (last metadata error: %v)", topics, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func topicsReady(md *kafka.MetadataResponse, n int) bool {
	if len(md.Topics) != n {
		return false
	}
	for _, tp := range md.Topics {
		if tp.Error != nil || len(tp.Partitions) == 0 {
			return false
		}
		for _, p := range tp.Partitions {
			if p.Error != nil || p.Leader.ID < 0 {
				return false
			}
		}
	}
	return true
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
