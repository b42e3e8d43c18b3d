package main

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/instroom/instroom/ingest"
)

// The states /readyz reports per check: fixed words, never error texts (they could hold
// citizen data or secrets).
const (
	stateOK          = "ok"
	stateUnreachable = "unreachable"
	// stateStarting: a source that can say whether it was reachable has not said yet.
	stateStarting = "starting"
	// stateWaiting: a source that reports only when it yields an item or fails has done
	// neither yet (an idle IMAP folder). It counts as ready: a failure would have shown.
	stateWaiting = "waiting"
)

// readyInterval is how often the downstreams are checked and the sources polled.
const readyInterval = 10 * time.Second

// readiness holds what /readyz reports: the last check of the blob store and the event
// bus, and the last attempt of every source. It is safe for concurrent use.
type readiness struct {
	mu     sync.Mutex
	checks map[string]string // "blobs", "events", "source:<name>": a state
}

func newReadiness() *readiness { return &readiness{checks: map[string]string{}} }

func (r *readiness) set(name, state string) {
	r.mu.Lock()
	r.checks[name] = state
	r.mu.Unlock()
}

// source records the outcome of a source's last attempt.
func (r *readiness) source(name string, up bool) {
	state := stateUnreachable
	if up {
		state = stateOK
	}
	r.set("source:"+name, state)
}

// snapshot returns whether everything is ready, and a copy of the checks.
func (r *readiness) snapshot() (bool, map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ready := true
	for _, s := range r.checks {
		if s != stateOK && s != stateWaiting {
			ready = false
		}
	}
	return ready, maps.Clone(r.checks)
}

// ServeHTTP answers /readyz: 200 when everything is ready, else 503, with a JSON body
// naming the state of each check.
func (r *readiness) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	ready, checks := r.snapshot()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}{ready, checks})
}

// probe is a downstream checked in the background: check nil means always ready (a
// directory blob store, the log publisher).
type probe struct {
	name  string
	check func(ctx context.Context) error
}

// watcher runs the readiness checks and polls the sources' backlogs every interval.
type watcher struct {
	ready   *readiness
	metrics *metrics
	probes  []probe
	streams []ingest.Stream
	// active reports whether this replica runs a stream (nil: all run here); the others
	// are standby (scale_out) and neither probed nor polled.
	active   func(name string) bool
	interval time.Duration
	timeout  time.Duration // per check
}

// register sets the initial states: probes without a check are ok, the others and the
// sources that can say whether they are reachable are starting until their first check.
func (w *watcher) register() {
	for _, p := range w.probes {
		state := stateStarting
		if p.check == nil {
			state = stateOK
		}
		w.ready.set(p.name, state)
	}
	for _, s := range w.streams {
		state := stateWaiting
		if _, ok := s.Source.(ingest.Prober); ok {
			state = stateStarting
		}
		if w.active != nil && !w.active(s.Name) {
			state = stateStandby
		}
		w.ready.set("source:"+s.Name, state)
	}
}

// run checks at once and then every interval until ctx is done.
func (w *watcher) run(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		w.once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *watcher) once(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range w.probes {
		if p.check == nil {
			continue
		}
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, w.timeout)
			defer cancel()
			err := p.check(cctx)
			if ctx.Err() != nil {
				return // shutting down: not a verdict
			}
			state := stateOK
			if err != nil {
				state = stateUnreachable
			}
			w.ready.set(p.name, state)
		})
	}
	now := time.Now()
	for _, s := range w.streams {
		if w.active != nil && !w.active(s.Name) {
			continue
		}
		if p, ok := s.Source.(ingest.Prober); ok {
			if up, known := p.Reachable(); known {
				w.ready.source(s.Name, up)
			}
		}
		w.pollMetrics(s, now)
	}
	wg.Wait()
}

// tokenExpirer is a source that logs in with an expiring token (an IMAP folder with
// XOAUTH2).
type tokenExpirer interface {
	TokenExpiry() (time.Time, bool)
}

// pollMetrics updates the gauges a source's optional interfaces feed.
func (w *watcher) pollMetrics(s ingest.Stream, now time.Time) {
	if w.metrics == nil {
		return
	}
	if te, ok := s.Source.(tokenExpirer); ok {
		if exp, ok := te.TokenExpiry(); ok {
			w.metrics.tokenExpiry.WithLabelValues(s.Name).Set(exp.Sub(now).Seconds())
		}
	}
	if b, ok := s.Source.(ingest.Backlogger); ok {
		age := 0.0
		if oldest, ok := b.Oldest(); ok {
			age = max(now.Sub(oldest).Seconds(), 0)
		}
		w.metrics.oldestWaiting.WithLabelValues(s.Name).Set(age)
	}
}
