package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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
	// Attempts remembers attempts that ended without an outcome, across restarts (nil:
	// not remembered). MaxAttempts of them make an item poison (default 3); ItemTimeout
	// bounds one attempt (default 10m).
	Attempts    AttemptLog
	MaxAttempts int
	ItemTimeout time.Duration
	// Scanner scans every original and attachment before anything is stored (nil: no
	// scanning); infected content goes to Quarantine instead (scan.go).
	Scanner    Scanner
	Quarantine *Quarantine

	// live is the mapping set by SetMapping (a reload); nil: Mapping.
	live atomic.Pointer[MapOptions]
	// isolate lets an item with earlier attempts without outcome run alone (run.go).
	isolate sync.RWMutex
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
// is stored and every event is published; the caller then acks the item. An item its
// source refused (Item.Refused) fails at once with that error, nothing parsed.
func (p *Pipeline) Handle(ctx context.Context, parser Parser, item *Item) (Result, error) {
	if err := item.Refused; err != nil {
		if !IsPermanent(err) {
			err = Permanent(ReasonRejected, err)
		}
		return Result{}, err
	}
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
	if err := p.screen(ctx, in, item); err != nil {
		return Result{}, err
	}
	m, err := Map(in, p.mapping())
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
	if hp, ok := p.Blobs.(SHA256Putter); ok && o.Content.SHA256 != "" {
		return hp.PutSHA256(ctx, o.Key, r, o.Content.Size, o.Content.ContentType, o.Content.SHA256)
	}
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
