package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/instroom/instroom/config"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/storage/bus"
)

// stateStandby: a source that another replica runs (scale_out). It counts as ready.
const stateStandby = "standby"

// leases runs this replica's share of the sources when scale_out is on: the sources are
// mapped to the partitions of the coordination topic (sorted by name, source i to
// partition i mod n, the same in every replica), and Kafka's consumer-group protocol
// assigns the partitions to the replicas. A source runs only while its partition is
// assigned here; at a rebalance every replica stops its sources (items in flight finish
// within shutdown.drain_timeout or are left unacked) before the new assignment starts.
type leases struct {
	group   *bus.Group
	streams []ingest.Stream
	p       *ingest.Pipeline
	log     *slog.Logger
	ready   *readiness
	active  *prometheus.GaugeVec

	mu   sync.Mutex
	mine map[string]bool // stream names running here
}

// newLeases prepares scale-out over pub's brokers.
func newLeases(c *config.Config, pub ingest.Publisher, streams []ingest.Stream, p *ingest.Pipeline, log *slog.Logger, reg prometheus.Registerer, ready *readiness) (*leases, error) {
	bp, ok := pub.(busPublisher)
	if !ok {
		return nil, errors.New("scale_out needs storage.events.type kafka")
	}
	k, ok := bp.pub.(*bus.Kafka)
	if !ok {
		return nil, errors.New("scale_out needs storage.events.type kafka")
	}
	so := c.ScaleOut
	l := &leases{
		group: k.Group(bus.GroupOptions{
			ID: so.Group, Topic: so.Topic, Partitions: so.Partitions, SessionTimeout: so.SessionTimeout,
			// The others wait for this replica to drain before the sources move.
			RebalanceTimeout: c.Shutdown.DrainTimeout + so.SessionTimeout + 10*time.Second,
		}),
		streams: streams, p: p, log: log, ready: ready, mine: map[string]bool{},
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "instroom_source_active",
			Help: "1 when this replica runs the source, 0 when another replica does (scale_out).",
		}, []string{"source"}),
	}
	reg.MustRegister(l.active)
	for _, s := range streams {
		l.active.WithLabelValues(s.Name).Set(0)
	}
	return l, nil
}

// isMine reports whether this replica runs the stream now (for readiness and backlog
// polling: a standby source is neither probed nor reported).
func (l *leases) isMine(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mine[name]
}

// run takes part in the group until ctx is done.
func (l *leases) run(ctx context.Context) error {
	n, err := l.ensure(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	byPart := partitionOf(l.streams, n)
	l.log.Info("scale-out: joining the replica group", "partitions", n, "sources", len(l.streams))
	return l.group.Run(ctx, func(gctx context.Context, parts []int) {
		var mine []ingest.Stream
		var names []string
		for _, s := range l.streams {
			if slices.Contains(parts, byPart[s.Name]) {
				mine = append(mine, s)
				names = append(names, s.Name)
			}
		}
		l.log.Info("scale-out: sources assigned to this replica", "sources", strings.Join(names, ","))
		l.runMine(gctx, mine)
		l.log.Info("scale-out: sources stopped for a new assignment", "sources", strings.Join(names, ","))
	})
}

// runMine runs the assigned streams until the generation ends. A stream counts as active
// (metric, readiness, isMine) exactly while it runs.
func (l *leases) runMine(ctx context.Context, mine []ingest.Stream) {
	var wg sync.WaitGroup
	for _, s := range mine {
		wg.Go(func() {
			l.set(s.Name, true)
			defer l.set(s.Name, false)
			if err := ingest.Run(ctx, s, l.p); err != nil {
				l.log.Error("scale-out: a source stopped", "source", s.Name, "err", err)
			}
		})
	}
	wg.Wait()
}

// ensure creates or reads the coordination topic, retrying while Kafka is unreachable.
func (l *leases) ensure(ctx context.Context) (int, error) {
	for attempt := 1; ; attempt++ {
		n, err := l.group.Ensure(ctx)
		if err == nil {
			return n, nil
		}
		if bus.Misconfigured(err) {
			return 0, fmt.Errorf("scale_out: %w", err)
		}
		l.log.Warn("scale-out: the coordination topic cannot be read yet; retrying", "err", err, "attempt", attempt)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(min(time.Duration(attempt)*time.Second, 10*time.Second)):
		}
	}
}

// set records whether this replica runs stream name.
func (l *leases) set(name string, on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mine[name] = on
	v, state := 0.0, stateStandby
	if on {
		// Ready until its first look says otherwise (the watcher polls every 10s): a
		// replica taking over a source must not drop out of service meanwhile.
		v, state = 1, stateWaiting
	}
	l.ready.set("source:"+name, state)
	l.active.WithLabelValues(name).Set(v)
}

// partitionOf maps each stream to a partition: sorted by name, stream i to partition
// i mod n. Every replica computes the same from the same configuration.
func partitionOf(streams []ingest.Stream, n int) map[string]int {
	names := make([]string, len(streams))
	for i, s := range streams {
		names[i] = s.Name
	}
	slices.Sort(names)
	out := map[string]int{}
	for i, name := range names {
		out[name] = i % n
	}
	return out
}
