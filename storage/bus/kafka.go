package bus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// KafkaOptions configure the Kafka publisher.
type KafkaOptions struct {
	Brokers []string
	// TLS enables TLS with this configuration (nil: plain TCP).
	TLS *tls.Config
	// SASL mechanism: "" (none), "PLAIN", "SCRAM-SHA-512" or "SCRAM-SHA-256".
	SASLMechanism string
	Username      string
	Password      string
	// Compression: "" or "none", "gzip", "snappy", "lz4", "zstd".
	Compression string
	// BatchTimeout is how long the writer waits to fill a batch (default 2ms): short, so a
	// synchronous publish is fast; concurrent workers still share batches.
	BatchTimeout time.Duration
	// BatchSize is the most messages in one batch per partition (default 32): a full
	// batch is sent at once and the next one started. kafka-go allocates room for
	// BatchSize messages with every batch, and a worker's synchronous publishes rarely
	// put more than a few messages in one partition's batch; 200 allocated ~40 KB per
	// mail for nothing.
	BatchSize int
	// WriteTimeout bounds one produce request (default 10s).
	WriteTimeout time.Duration
	// ClientID names the client to the brokers (default "instroom").
	ClientID string
}

// Kafka publishes messages to Kafka. Publish returns when every message is acknowledged by
// all in-sync replicas (acks=all). Messages are partitioned by key with murmur2, as Java
// clients do, so all events of one klantcontact land in one partition in order.
type Kafka struct {
	w    *kafka.Writer
	tr   *kafka.Transport
	opts KafkaOptions
}

// NewKafka returns a publisher. It does no I/O; call Check to verify the brokers and
// topics.
func NewKafka(opts KafkaOptions) (*Kafka, error) {
	if len(opts.Brokers) == 0 {
		return nil, errors.New("bus: no kafka brokers")
	}
	if opts.BatchTimeout <= 0 {
		opts.BatchTimeout = 2 * time.Millisecond
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 32
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.ClientID == "" {
		opts.ClientID = "instroom"
	}
	mech, err := saslMechanism(opts)
	if err != nil {
		return nil, err
	}
	var codec kafka.Compression
	switch strings.ToLower(opts.Compression) {
	case "", "none":
	case "gzip":
		codec = compress.Gzip
	case "snappy":
		codec = compress.Snappy
	case "lz4":
		codec = compress.Lz4
	case "zstd":
		codec = compress.Zstd
	default:
		return nil, fmt.Errorf("bus: kafka compression %q is not one of none, gzip, snappy, lz4, zstd", opts.Compression)
	}
	tr := &kafka.Transport{
		Dial:        (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLS:         opts.TLS,
		SASL:        mech,
		ClientID:    opts.ClientID,
		IdleTimeout: time.Minute,
		MetadataTTL: 30 * time.Second,
	}
	w := &kafka.Writer{
		Addr:         kafka.TCP(opts.Brokers...),
		Balancer:     kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: opts.BatchTimeout,
		BatchSize:    opts.BatchSize,
		BatchBytes:   16 << 20,
		WriteTimeout: opts.WriteTimeout,
		ReadTimeout:  opts.WriteTimeout,
		MaxAttempts:  3,
		Compression:  codec,
		Transport:    tr,
	}
	return &Kafka{w: w, tr: tr, opts: opts}, nil
}

func saslMechanism(o KafkaOptions) (sasl.Mechanism, error) {
	switch strings.ToUpper(o.SASLMechanism) {
	case "":
		return nil, nil
	case "PLAIN":
		return plain.Mechanism{Username: o.Username, Password: o.Password}, nil
	case "SCRAM-SHA-512":
		m, err := scram.Mechanism(scram.SHA512, o.Username, o.Password)
		if err != nil {
			return nil, fmt.Errorf("bus: kafka sasl: %w", err)
		}
		return m, nil
	case "SCRAM-SHA-256":
		m, err := scram.Mechanism(scram.SHA256, o.Username, o.Password)
		if err != nil {
			return nil, fmt.Errorf("bus: kafka sasl: %w", err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("bus: kafka sasl mechanism %q is not one of PLAIN, SCRAM-SHA-512, SCRAM-SHA-256", o.SASLMechanism)
}

// ErrNoTopic is returned by Check when a topic does not exist.
var ErrNoTopic = errors.New("bus: kafka topic does not exist")

// Check connects to the brokers (with TLS and SASL) and verifies that the topics exist.
func (k *Kafka) Check(ctx context.Context, topics ...string) error {
	client := &kafka.Client{Addr: k.w.Addr, Transport: k.tr, Timeout: 10 * time.Second}
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("bus: kafka metadata: %w", err)
	}
	for _, t := range resp.Topics {
		if t.Error != nil {
			if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
				return fmt.Errorf("%w: %s", ErrNoTopic, t.Name)
			}
			return fmt.Errorf("bus: kafka topic %s: %w", t.Name, t.Error)
		}
	}
	return nil
}

// Publish writes messages and waits for acks=all.
func (k *Kafka) Publish(ctx context.Context, msgs ...Message) error {
	out := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		h := make([]kafka.Header, len(m.Headers))
		for j, kv := range m.Headers {
			h[j] = kafka.Header{Key: kv.Key, Value: []byte(kv.Value)}
		}
		out[i] = kafka.Message{Topic: m.Topic, Key: []byte(m.Key), Value: m.Value, Headers: h}
	}
	err := k.w.WriteMessages(ctx, out...)
	if err == nil {
		return nil
	}
	if isTooLarge(err) {
		return fmt.Errorf("%w: %v", ErrTooLarge, err)
	}
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) {
		for _, e := range werrs {
			if e != nil && isTooLarge(e) {
				return fmt.Errorf("%w: %v", ErrTooLarge, e)
			}
		}
	}
	return fmt.Errorf("bus: kafka write: %w", err)
}

func isTooLarge(err error) bool {
	var tl kafka.MessageTooLargeError
	return errors.Is(err, kafka.MessageSizeTooLarge) || errors.As(err, &tl)
}

// Close flushes and closes the writer. Call it last at shutdown.
func (k *Kafka) Close() error { return k.w.Close() }

// String names the publisher for logs.
func (k *Kafka) String() string { return "kafka:" + strings.Join(k.opts.Brokers, ",") }

// Misconfigured reports whether err from Check means the configuration is wrong (missing
// topic, refused credentials) rather than that the brokers are unreachable.
func Misconfigured(err error) bool {
	return errors.Is(err, ErrNoTopic) || errors.Is(err, kafka.SASLAuthenticationFailed) ||
		errors.Is(err, kafka.TopicAuthorizationFailed) || errors.Is(err, kafka.UnsupportedSASLMechanism) ||
		errors.Is(err, kafka.ClusterAuthorizationFailed)
}
