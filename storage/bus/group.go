package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// GroupOptions configure a lease group: replicas that share work through Kafka's
// consumer-group protocol. The group's topic is used only for its partitions, which are
// the leases: no message is ever read or written on it.
type GroupOptions struct {
	// ID is the consumer group id; every replica of one deployment uses the same.
	ID string
	// Topic is the coordination topic; it is created with Partitions partitions when it
	// does not exist (an existing topic keeps its partitions).
	Topic      string
	Partitions int
	// SessionTimeout is how long the broker waits for a silent member before it hands
	// its partitions to the others (default 10s). HeartbeatInterval (default a third of
	// it) is how often a member checks in. RebalanceTimeout is how long the broker waits
	// for the members to stop their work and rejoin (default 30s).
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	RebalanceTimeout  time.Duration
	// Logger, when set, receives kafka-go's group messages (joins, generations).
	Logger kafka.Logger
}

// Group is a member of a lease group.
type Group struct {
	k    *Kafka
	opts GroupOptions
}

// Group returns a member of the lease group of opts on this publisher's brokers (with
// its TLS and SASL).
func (k *Kafka) Group(opts GroupOptions) *Group {
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = 10 * time.Second
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = opts.SessionTimeout / 3
	}
	if opts.RebalanceTimeout <= 0 {
		opts.RebalanceTimeout = 30 * time.Second
	}
	if opts.Partitions <= 0 {
		opts.Partitions = 12
	}
	return &Group{k: k, opts: opts}
}

// Ensure creates the coordination topic when it is missing and returns its number of
// partitions (the same for every replica, so all map work to partitions alike).
func (g *Group) Ensure(ctx context.Context) (int, error) {
	client := &kafka.Client{Addr: g.k.w.Addr, Transport: g.k.tr, Timeout: 10 * time.Second}
	n, err := g.partitions(ctx, client)
	if err == nil {
		return n, nil
	}
	if !errors.Is(err, ErrNoTopic) {
		return 0, err
	}
	res, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: g.opts.Topic, NumPartitions: g.opts.Partitions, ReplicationFactor: -1,
	}}})
	if err != nil {
		return 0, fmt.Errorf("bus: creating group topic: %w", err)
	}
	if terr := res.Errors[g.opts.Topic]; terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
		return 0, fmt.Errorf("bus: creating group topic: %w", terr)
	}
	for range 50 { // metadata catches up with the new topic
		if n, err = g.partitions(ctx, client); err == nil {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return 0, err
}

func (g *Group) partitions(ctx context.Context, client *kafka.Client) (int, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{g.opts.Topic}})
	if err != nil {
		return 0, fmt.Errorf("bus: reading group topic: %w", err)
	}
	for _, t := range md.Topics {
		if t.Name != g.opts.Topic {
			continue
		}
		if t.Error != nil {
			if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
				return 0, ErrNoTopic
			}
			return 0, fmt.Errorf("bus: reading group topic: %w", t.Error)
		}
		if len(t.Partitions) == 0 {
			return 0, ErrNoTopic
		}
		return len(t.Partitions), nil
	}
	return 0, ErrNoTopic
}

// Run joins the group and, for every generation, calls work with the partitions
// assigned to this member (possibly none) and a context that ends with the generation
// (a member joined or left, or this member lost its session). work must return soon
// after its context ends: the group moves on only when every member has stopped its
// work, which is what keeps a partition's work in one member at a time. Run returns
// when ctx ends, leaving the group so the others take over at once.
func (g *Group) Run(ctx context.Context, work func(ctx context.Context, partitions []int)) error {
	dialer := &kafka.Dialer{
		Timeout: 5 * time.Second, DualStack: true, ClientID: g.k.opts.ClientID,
		TLS: g.k.opts.TLS, SASLMechanism: g.k.tr.SASL,
	}
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: g.opts.ID, Brokers: g.k.opts.Brokers, Dialer: dialer, Topics: []string{g.opts.Topic},
		GroupBalancers:    []kafka.GroupBalancer{kafka.RoundRobinGroupBalancer{}},
		HeartbeatInterval: g.opts.HeartbeatInterval, SessionTimeout: g.opts.SessionTimeout,
		RebalanceTimeout: g.opts.RebalanceTimeout, JoinGroupBackoff: time.Second,
		Timeout: 5 * time.Second, Logger: g.opts.Logger, ErrorLogger: g.opts.Logger,
	})
	if err != nil {
		return fmt.Errorf("bus: group: %w", err)
	}
	defer cg.Close() // leaves the group
	for {
		gen, err := cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, kafka.ErrGroupClosed) {
				return err
			}
			continue // the group retries joining by itself
		}
		var parts []int
		for _, pa := range gen.Assignments[g.opts.Topic] {
			parts = append(parts, pa.ID)
		}
		slices.Sort(parts)
		gen.Start(func(gctx context.Context) {
			// Merge the generation's end with ours, so shutdown stops the work too.
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			stop := context.AfterFunc(gctx, cancel)
			defer stop()
			work(wctx, parts)
			// Returning ends the generation for every member: only the end of the
			// generation (or of ctx) may do that.
			<-wctx.Done()
		})
	}
}
