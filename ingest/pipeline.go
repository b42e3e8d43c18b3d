package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Observer receives the outcome of every item, for metrics. Implementations must be safe
// for concurrent use.
type Observer interface {
	// ItemDone records one handled item. Outcome is "ok", "temporary" or "permanent";
	// reason is the permanent reason or "".
	ItemDone(source, channel, outcome, reason string, d time.Duration)
	// SourceUp records whether a source can currently be read.
	SourceUp(source string, up bool)
}

type nopObserver struct{}

func (nopObserver) ItemDone(string, string, string, string, time.Duration) {}
func (nopObserver) SourceUp(string, bool)                                  {}

// Pipeline stores and publishes what the channels parse.
type Pipeline struct {
	Blobs     BlobStore
	Publisher Publisher
	// Mapping configures how intakes become registrations.
	Mapping *MapOptions
	// CESource is the CloudEvents source attribute of every event.
	CESource string
	Topics   Topics
	Logger   *slog.Logger
	Observer Observer
	// MaxItemBytes is the largest item accepted; 0 means no limit.
	MaxItemBytes int64
	// Index remembers which klantcontact each message became, so replies link to the
	// klantcontact they answer (onderwerpobject wasKlantcontact). Nil: no linking.
	Index ContactIndex
}

// ContactIndex maps channel references (ContactKey) to the klantcontact they became. It
// is shared by every replica (it lives in the blob store), so a reply links to its
// predecessor whichever replica registered that.
type ContactIndex interface {
	// Lookup returns the klantcontact uuid recorded for key, or "" when there is none.
	Lookup(ctx context.Context, key string) (string, error)
	// Record records the klantcontact uuid of key (overwriting is harmless: ids are
	// deterministic).
	Record(ctx context.Context, key, klantcontactID string) error
}

func (p *Pipeline) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

func (p *Pipeline) ceSource() string {
	if p.CESource == "" {
		return "urn:instroom"
	}
	return p.CESource
}

func (p *Pipeline) observer() Observer {
	if p.Observer == nil {
		return nopObserver{}
	}
	return p.Observer
}

// Result describes a handled item, for logging.
type Result struct {
	KlantcontactID string
	Objects        int
	Bytes          int64
	Tasks          int
}

// Handle parses, maps, stores and publishes one item. It returns only after every object
// is stored and every event is published; the caller then acks the item.
func (p *Pipeline) Handle(ctx context.Context, parser Parser, item *Item) (Result, error) {
	if p.MaxItemBytes > 0 && item.Size > p.MaxItemBytes {
		return Result{}, Permanentf(ReasonTooLarge, "item of %d bytes is over the limit of %d bytes", item.Size, p.MaxItemBytes)
	}
	in, err := parser.Parse(ctx, item)
	if err != nil {
		return Result{}, fmt.Errorf("parsing item: %w", err)
	}
	if in.Cleanup != nil {
		defer in.Cleanup()
	}
	if err := p.resolveLinks(ctx, in); err != nil {
		return Result{}, err
	}
	m, err := Map(in, p.Mapping)
	if err != nil {
		return Result{}, fmt.Errorf("mapping intake: %w", err)
	}
	res := Result{KlantcontactID: m.Registration.Klantcontact.UUID, Objects: len(m.Objects), Tasks: len(m.Registration.InterneTaken)}
	for _, o := range m.Objects {
		if err := p.put(ctx, o); err != nil {
			return res, fmt.Errorf("storing informatieobject: %w", err)
		}
		res.Bytes += o.Content.Size
	}
	if p.Index != nil && in.LinkKey != "" {
		if err := p.Index.Record(ctx, in.LinkKey, res.KlantcontactID); err != nil {
			return res, fmt.Errorf("recording contact index: %w", err)
		}
	}
	msgs, err := Events(&m.Registration, p.ceSource(), p.Topics)
	if err != nil {
		return res, Permanent(ReasonInvalid, err)
	}
	if err := p.Publisher.Publish(ctx, msgs...); err != nil {
		return res, fmt.Errorf("publishing events: %w", err)
	}
	return res, nil
}

// resolveLinks looks up the klantcontacten an intake's links became.
func (p *Pipeline) resolveLinks(ctx context.Context, in *Intake) error {
	if p.Index == nil {
		return nil
	}
	for _, key := range in.Links {
		id, err := p.Index.Lookup(ctx, key)
		if err != nil {
			return fmt.Errorf("looking up contact index: %w", err)
		}
		if id != "" {
			in.Earlier = append(in.Earlier, id)
		}
	}
	return nil
}

func (p *Pipeline) put(ctx context.Context, o Stored) error {
	r, err := o.Content.Open(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	return p.Blobs.Put(ctx, o.Key, r, o.Content.Size, o.Content.ContentType)
}

// Inspect parses and maps one item without storing or publishing anything.
func Inspect(ctx context.Context, parser Parser, item *Item, opts *MapOptions) (*Registration, error) {
	in, err := parser.Parse(ctx, item)
	if err != nil {
		return nil, fmt.Errorf("parsing item: %w", err)
	}
	if in.Cleanup != nil {
		defer in.Cleanup()
	}
	m, err := Map(in, opts)
	if err != nil {
		return nil, err
	}
	return &m.Registration, nil
}

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
	// MaxBackoff caps the wait between retries of a temporarily failing item (default 30s).
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
		s.MaxBackoff = 30 * time.Second
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
	obs := p.observer()
	// The item in flight may finish after shutdown was asked, within the drain timeout.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(s.DrainTimeout, cancel)
		context.AfterFunc(hctx, func() { t.Stop() })
	})
	defer stop()
	log = log.With("source_id", item.Ref)
	for attempt := 1; ; attempt++ {
		start := time.Now()
		res, err := safeHandle(hctx, p, s.Parser, item)
		d := time.Since(start)
		if err == nil {
			obs.ItemDone(s.Name, s.Channel, "ok", "", d)
			if aerr := ack(hctx, nil); aerr != nil {
				log.Error("acknowledging item failed; it will be read again", "err", aerr, "klantcontact_id", res.KlantcontactID)
				return
			}
			log.Debug("item registered", "klantcontact_id", res.KlantcontactID, "attachments", res.Objects-1, "bytes", res.Bytes, "tasks", res.Tasks, "duration_ms", d.Milliseconds())
			return
		}
		if errors.Is(err, ErrVanished) {
			obs.ItemDone(s.Name, s.Channel, "temporary", "", d)
			_ = ack(hctx, err)
			log.Info("item vanished from its source; nothing to do")
			return
		}
		if IsPermanent(err) {
			reason := ReasonOf(err)
			dl := DeadLetter(DeadLetterEvent{Source: s.Name, Ref: item.Ref, Channel: s.Channel, Reason: reason, Error: err.Error(), At: time.Now().UTC().Truncate(time.Second)}, p.ceSource(), p.Topics)
			if perr := p.Publisher.Publish(hctx, dl); perr != nil {
				err = fmt.Errorf("publishing dead letter: %w", perr)
			} else {
				obs.ItemDone(s.Name, s.Channel, "permanent", reason, d)
				log.Warn("item failed permanently; moved to failed", "reason", reason, "err", err)
				if aerr := ack(hctx, err); aerr != nil {
					log.Error("moving failed item failed; it will be read again", "err", aerr)
				}
				return
			}
		}
		obs.ItemDone(s.Name, s.Channel, "temporary", "", d)
		if ctx.Err() != nil {
			// Shutting down: leave the item for the next run.
			_ = ack(context.WithoutCancel(ctx), err)
			log.Info("item abandoned at shutdown; it will be read again", "err", err)
			return
		}
		wait := backoff(attempt, s.MaxBackoff)
		log.Warn("item failed; retrying", "err", err, "attempt", attempt, "retry_in", wait.String())
		if !sleep(ctx, wait) {
			_ = ack(context.WithoutCancel(ctx), err)
			return
		}
	}
}

// safeHandle runs Handle and turns a panic into a permanent error.
func safeHandle(ctx context.Context, p *Pipeline, parser Parser, item *Item) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.logger().Error("panic while handling item", "source_id", item.Ref, "panic", fmt.Sprint(r), "stack", string(stack()))
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
