package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrVanished marks an item that is no longer at its source (moved or removed by someone
// else, or settled already): there is nothing to handle, and Run drops it without retrying.
var ErrVanished = errors.New("item vanished from its source")

// ErrEndOfInput is returned by a source's Read when it has nothing left and was asked to
// stop then (run once). Run then returns nil.
var ErrEndOfInput = errors.New("end of input")

// Stream is one source with the parser of its channel.
type Stream struct {
	// Name identifies the source in logs, metrics and dead-letter events.
	Name    string
	Channel string
	Source  Source
	Parser  Parser
	// Workers is the number of items handled at the same time (default 1).
	Workers int
	// MaxBackoff caps the wait between retries of a temporarily failing item (default 5s).
	MaxBackoff time.Duration
	// DrainTimeout is how long an item in flight may take to finish after shutdown was
	// asked (default 10s). After it the item is abandoned unacked.
	DrainTimeout time.Duration
}

// Run reads the stream's source until ctx is done (or the source reaches its end) and
// handles every item with the pipeline: store, publish, then ack. Temporary errors are
// retried with exponential backoff, in place, for as long as they last; a permanent error
// or a panic sends the item to the dead-letter topic and the source's failed place, and
// the source goes on with the next item.
func Run(ctx context.Context, s Stream, p *Pipeline) error {
	if s.Workers < 1 {
		s.Workers = 1
	}
	if s.MaxBackoff <= 0 {
		s.MaxBackoff = 5 * time.Second
	}
	if s.DrainTimeout <= 0 {
		s.DrainTimeout = 10 * time.Second
	}
	log := p.logger().With("source", s.Name, "channel", s.Channel)
	errc := make(chan error, s.Workers)
	for range s.Workers {
		go func() { errc <- runWorker(ctx, s, p, log) }()
	}
	var first error
	for range s.Workers {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func runWorker(ctx context.Context, s Stream, p *Pipeline, log *slog.Logger) error {
	obs := p.observer()
	readFailures := 0
	for {
		item, ack, err := s.Source.Read(ctx)
		if err != nil {
			if errors.Is(err, ErrEndOfInput) {
				return nil
			}
			if ctx.Err() != nil {
				return nil
			}
			readFailures++
			obs.SourceUp(s.Name, false)
			log.Warn("reading source failed", "err", err, "attempt", readFailures)
			if !sleep(ctx, backoff(readFailures, s.MaxBackoff)) {
				return nil
			}
			continue
		}
		readFailures = 0
		obs.SourceUp(s.Name, true)
		handleItem(ctx, s, p, log, item, ack)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// handleItem handles one item until it is settled or shutdown abandons it.
func handleItem(ctx context.Context, s Stream, p *Pipeline, log *slog.Logger, item *Item, ack AckFunc) {
	// The item in flight may finish after shutdown was asked, within the drain timeout.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(s.DrainTimeout, cancel)
		context.AfterFunc(hctx, func() { t.Stop() })
	})
	defer stop()
	h := &itemRun{s: s, p: p, log: log.With("source_id", item.LogID()), item: item, ack: ack, key: AttemptKey(s.Name, item.Ref)}
	for attempt := 1; ; attempt++ {
		settled, err := h.attempt(hctx)
		if settled {
			return
		}
		if ctx.Err() != nil {
			// Shutting down: leave the item for the next run.
			_ = ack(context.WithoutCancel(ctx), err)
			h.log.Info("item abandoned at shutdown; it will be read again", "err", err)
			return
		}
		wait := backoff(attempt, s.MaxBackoff)
		h.log.Warn("item failed; retrying", "err", err, "attempt", attempt, "retry_in", wait.String())
		if !sleep(ctx, wait) {
			_ = ack(context.WithoutCancel(ctx), err)
			return
		}
	}
}

// itemRun is one item being handled.
type itemRun struct {
	s    Stream
	p    *Pipeline
	log  *slog.Logger
	item *Item
	ack  AckFunc
	key  string // the item's key in the attempt log
}

// attempt makes one attempt at the item and settles it when the outcome is final. It
// returns whether the item is settled (or given up), and the error of a temporary failure.
func (h *itemRun) attempt(ctx context.Context) (bool, error) {
	obs := h.p.observer()
	strikes, err := h.strikes()
	if err != nil {
		return false, err
	}
	if strikes >= h.p.maxAttempts() {
		err := Permanentf(ReasonPoison, "the item ended %d attempts without an outcome (worker stopped or timed out)", strikes)
		return h.fail(ctx, err, 0)
	}
	// A suspect (an item that was in flight when the worker died, or that timed out)
	// runs alone, so a second death is certainly its own doing, not a neighbour's.
	if strikes > 0 {
		h.p.isolate.Lock()
		defer h.p.isolate.Unlock()
	} else {
		h.p.isolate.RLock()
		defer h.p.isolate.RUnlock()
	}
	if err := h.begin(); err != nil {
		return false, err
	}
	actx, cancel := context.WithTimeout(ctx, h.p.itemTimeout())
	start := time.Now()
	res, err := safeHandle(actx, h.p, h.s.Parser, h.item)
	d := time.Since(start)
	timedOut := errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	cancel()
	h.end(timedOut)
	if err == nil {
		obs.ItemDone(h.s.Name, h.s.Channel, "ok", "", d)
		h.clear()
		if aerr := h.ack(ctx, nil); aerr != nil {
			h.log.Error("acknowledging item failed; it will be read again", "err", aerr, "klantcontact_id", res.KlantcontactID)
			return true, nil
		}
		h.log.Debug("item registered", "klantcontact_id", res.KlantcontactID, "attachments", res.Objects-1, "bytes", res.Bytes, "tasks", res.Tasks, "duration_ms", d.Milliseconds())
		return true, nil
	}
	if errors.Is(err, ErrVanished) {
		obs.ItemDone(h.s.Name, h.s.Channel, "temporary", "", d)
		h.clear()
		_ = h.ack(ctx, err)
		h.log.Info("item vanished from its source; nothing to do")
		return true, nil
	}
	if timedOut {
		err = fmt.Errorf("attempt timed out after %v: %w", h.p.itemTimeout(), err)
	}
	if IsPermanent(err) {
		return h.fail(ctx, err, d)
	}
	obs.ItemDone(h.s.Name, h.s.Channel, "temporary", "", d)
	return false, err
}

// fail publishes the dead letter of a permanently failed item and moves it to failed.
func (h *itemRun) fail(ctx context.Context, err error, d time.Duration) (bool, error) {
	reason := ReasonOf(err)
	dl := DeadLetter(newDeadLetter(ctx, h.s, h.item, err, time.Now().UTC().Truncate(time.Second)), h.p.ceSource(), h.p.Topics)
	if perr := h.p.Publisher.Publish(ctx, dl); perr != nil {
		h.p.observer().ItemDone(h.s.Name, h.s.Channel, "temporary", "", d)
		return false, fmt.Errorf("publishing dead letter: %w", perr)
	}
	h.p.observer().ItemDone(h.s.Name, h.s.Channel, "permanent", reason, d)
	h.log.Warn("item failed permanently; moved to failed", "reason", reason, "err", err)
	h.clear()
	if aerr := h.ack(ctx, err); aerr != nil {
		h.log.Error("moving failed item failed; it will be read again", "err", aerr)
	}
	return true, nil
}

// strikes returns the attempts at the item that ended without an outcome.
func (h *itemRun) strikes() (int, error) {
	if h.p.Attempts == nil {
		return 0, nil
	}
	n, err := h.p.Attempts.Count(h.key)
	if err != nil {
		return 0, fmt.Errorf("reading attempt log: %w", err)
	}
	return n, nil
}

// begin records the attempt in the attempt log before it starts. An attempt log that
// cannot be written fails the attempt (temporarily): without it, an item that kills the
// worker would loop.
func (h *itemRun) begin() error {
	if h.p.Attempts == nil {
		return nil
	}
	if _, err := h.p.Attempts.Begin(h.key); err != nil {
		return fmt.Errorf("recording attempt: %w", err)
	}
	return nil
}

func (h *itemRun) end(struck bool) {
	if h.p.Attempts == nil {
		return
	}
	if err := h.p.Attempts.End(h.key, struck); err != nil {
		h.log.Warn("recording the end of an attempt failed", "err", err)
	}
}

func (h *itemRun) clear() {
	if h.p.Attempts == nil {
		return
	}
	if err := h.p.Attempts.Clear(h.key); err != nil {
		h.log.Warn("clearing the attempt log failed", "err", err)
	}
}

// safeHandle runs Handle and turns a panic into a permanent error.
func safeHandle(ctx context.Context, p *Pipeline, parser Parser, item *Item) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.logger().Error("panic while handling item", "source_id", item.LogID(), "panic", fmt.Sprint(r), "stack", string(stack()))
			err = Permanentf(ReasonPanic, "panic while handling item")
		}
	}()
	return p.Handle(ctx, parser, item)
}

func backoff(attempt int, max time.Duration) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// AttemptLog remembers, across restarts, the attempts at an item that ended without an
// outcome: the worker died during the attempt, or it ran past the item timeout. An item
// with Pipeline.MaxAttempts such attempts is poison: it goes to failed.
type AttemptLog interface {
	// Count returns the attempts without outcome recorded for key.
	Count(key string) (int, error)
	// Begin records an attempt before it starts and returns the count before it.
	Begin(key string) (int, error)
	// End records that the attempt ended; struck keeps it counted (it timed out).
	End(key string, struck bool) error
	// Clear forgets the key (the item is settled or replayed).
	Clear(key string) error
}

// AttemptKey is the attempt-log key of an item of a source.
func AttemptKey(source, ref string) string { return source + "\x00" + ref }

func (p *Pipeline) maxAttempts() int {
	if p.MaxAttempts <= 0 {
		return 3
	}
	return p.MaxAttempts
}

func (p *Pipeline) itemTimeout() time.Duration {
	if p.ItemTimeout <= 0 {
		return 10 * time.Minute
	}
	return p.ItemTimeout
}

// SetMapping replaces the mapping (routing rules included) for the items handled from
// now on; an item in flight keeps the mapping it started with. Safe while Run runs.
func (p *Pipeline) SetMapping(m *MapOptions) { p.live.Store(m) }

func (p *Pipeline) mapping() *MapOptions {
	if m := p.live.Load(); m != nil {
		return m
	}
	return p.Mapping
}
