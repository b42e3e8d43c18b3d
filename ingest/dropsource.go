package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"time"
)

// DropZone is a place where items arrive as named files: a Maildir, a local directory, an
// S3 prefix. Its methods use only standard types so storage packages satisfy it by shape.
type DropZone interface {
	// List calls fn for every item ready to be read (complete, old enough), oldest first.
	List(ctx context.Context, fn func(name string, size int64, modTime time.Time) error) error
	// Open streams an item's content.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Done moves an item to the processed place.
	Done(ctx context.Context, name string) error
	// Fail moves an item to the failed place, with a machine-readable reason and a detail
	// text free of message content.
	Fail(ctx context.Context, name, reason, detail string) error
	// String names the drop zone for logs (no secrets).
	String() string
}

// DropSourceOptions configure a DropSource.
type DropSourceOptions struct {
	// PollInterval is the time between listings when the zone is empty (default 2s).
	PollInterval time.Duration
	// Once makes Read return ErrEndOfInput when the zone is empty and nothing is in flight,
	// instead of waiting for new items.
	Once bool
	// Vendor is set as Item.Vendor on every item (a vendor's folder of a drop zone).
	Vendor string
}

// DropSource reads a DropZone: it lists ready items, yields each once while it is in
// flight, and settles it through the zone on ack. It is safe for concurrent Read calls.
// One DropSource must be the only reader of its zone.
type DropSource struct {
	zone DropZone
	opts DropSourceOptions

	mu       sync.Mutex
	queue    []dropEntry
	inflight map[string]time.Time // name: modification time
	done     chan struct{}        // signalled when an item is settled (for Once)
	// settled remembers, per name, the sequence number of its settlement, so a listing
	// that began before an item was settled does not queue it again.
	seq      uint64
	settled  map[string]uint64
	listings int // listings in progress
	listed   int // outcome of the last listing: 0 none yet, 1 ok, -1 failed
}

type dropEntry struct {
	name string
	size int64
	mod  time.Time
}

// NewDropSource returns a source over zone. It does no I/O.
func NewDropSource(zone DropZone, opts *DropSourceOptions) *DropSource {
	s := &DropSource{zone: zone, inflight: map[string]time.Time{}, settled: map[string]uint64{}, done: make(chan struct{}, 1)}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.PollInterval <= 0 {
		s.opts.PollInterval = 2 * time.Second
	}
	return s
}

// Read implements Source.
func (s *DropSource) Read(ctx context.Context) (*Item, AckFunc, error) {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.mu.Unlock()
			if err := s.refill(ctx); err != nil {
				return nil, nil, err
			}
			s.mu.Lock()
		}
		if len(s.queue) > 0 {
			e := s.queue[0]
			s.queue = s.queue[1:]
			s.inflight[e.name] = e.mod
			s.mu.Unlock()
			return s.item(e), s.ackFunc(e.name), nil
		}
		busy := len(s.inflight) > 0
		s.mu.Unlock()
		if s.opts.Once && !busy {
			return nil, nil, ErrEndOfInput
		}
		t := time.NewTimer(s.opts.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-s.done:
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *DropSource) refill(ctx context.Context) error {
	s.mu.Lock()
	start := s.seq
	s.listings++
	s.mu.Unlock()
	var found []dropEntry
	err := s.zone.List(ctx, func(name string, size int64, mod time.Time) error {
		found = append(found, dropEntry{name, size, mod})
		return nil
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listings--
	if err != nil {
		s.listed = -1
		return err
	}
	s.listed = 1
	queued := map[string]bool{}
	for _, e := range s.queue {
		queued[e.name] = true
	}
	for _, e := range found {
		if at, ok := s.settled[e.name]; ok && at > start {
			continue // settled while this listing ran: the listing saw it before it moved
		}
		if _, busy := s.inflight[e.name]; !busy && !queued[e.name] {
			s.queue = append(s.queue, e)
		}
	}
	if s.listings == 0 {
		clear(s.settled) // no listing in progress can have seen them any more
	}
	return nil
}

func (s *DropSource) item(e dropEntry) *Item {
	name := e.name
	return &Item{
		Ref:        name,
		Vendor:     s.opts.Vendor,
		Size:       e.size,
		ReceivedAt: e.mod.UTC(),
		Open: func(ctx context.Context) (io.ReadCloser, error) {
			rc, err := s.zone.Open(ctx, name)
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%w: %w", ErrVanished, err)
			}
			return rc, err
		},
	}
}

func (s *DropSource) ackFunc(name string) AckFunc {
	return func(ctx context.Context, err error) error {
		defer func() {
			s.mu.Lock()
			delete(s.inflight, name)
			s.seq++
			s.settled[name] = s.seq
			s.mu.Unlock()
			select {
			case s.done <- struct{}{}:
			default:
			}
		}()
		switch {
		case err == nil:
			return s.zone.Done(ctx, name)
		case IsPermanent(err):
			return s.zone.Fail(ctx, name, ReasonOf(err), err.Error())
		default:
			return nil // leave it to be listed again
		}
	}
}

// Close implements Source.
func (s *DropSource) Close() error { return nil }

// Backlogger is implemented by a Source that knows how long its oldest waiting item has
// waited, for the oldest-waiting metric. Implementations must be safe for concurrent use.
type Backlogger interface {
	// Oldest returns the arrival (modification) time of the oldest item queued or in
	// flight; false when none is known to wait.
	Oldest() (time.Time, bool)
}

// Prober is implemented by a Source that knows whether its last attempt to look for
// items succeeded, also when it found none (the pipeline only learns of reads that
// return, and an idle source's Read waits). Implementations must be safe for concurrent
// use.
type Prober interface {
	// Reachable reports the outcome of the last attempt; known is false before the first.
	Reachable() (up, known bool)
}

var (
	_ Backlogger = (*DropSource)(nil)
	_ Prober     = (*DropSource)(nil)
)

// Oldest implements Backlogger: the oldest modification time among the items queued and
// in flight. Items not yet listed are not known.
func (s *DropSource) Oldest() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest time.Time
	for _, e := range s.queue {
		if oldest.IsZero() || e.mod.Before(oldest) {
			oldest = e.mod
		}
	}
	for _, mod := range s.inflight {
		if oldest.IsZero() || mod.Before(oldest) {
			oldest = mod
		}
	}
	return oldest, !oldest.IsZero()
}

// Reachable implements Prober: whether the zone's last listing succeeded.
func (s *DropSource) Reachable() (up, known bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listed > 0, s.listed != 0
}

// Place is where a name is in a drop zone. It is an alias of int, not a defined type, so
// that storage packages, which may not import ingest, satisfy DropStore by shape
// (dropzone.PlaceTop and the others have the same values).
type Place = int

// The places of a drop zone.
const (
	PlaceNone      Place = iota // not there
	PlaceTop                    // at the top level: delivered, waiting to be handled
	PlaceProcessed              // in processed/: handled
	PlaceFailed                 // in failed/: failed for good, with a reason
)

// DropStore is the write side of a drop zone, used by the intake API: a pushed item is
// written into the zone exactly as a file delivery would be, and found again there for
// idempotency and status. Its methods use only standard types (Place is an int), so
// storage packages satisfy it by shape.
type DropStore interface {
	DropZone
	// Put writes name at the top level durably, replacing a file of that name: in a
	// directory under a hidden temporary name, synced, renamed, the directory synced;
	// on S3 one PUT of the known size.
	Put(ctx context.Context, name string, r io.Reader, size int64) error
	// Remove deletes name from the top level; a missing name is no error.
	Remove(ctx context.Context, name string) error
	// Locate says where name is, checked in the order top level, processed/, failed/;
	// for PlaceFailed it also returns the reason code of its reason file.
	Locate(ctx context.Context, name string) (Place, string, error)
	// OpenAt opens name at a place other than PlaceNone.
	OpenAt(ctx context.Context, place Place, name string) (io.ReadCloser, error)
}

// Vendor is a party that delivers items over the intake API or into drop zones: a DMS, a
// scanning street, a chatbot platform. The host decodes vendors from its configuration
// (intake.vendors) and hands them to the channels.
type Vendor struct {
	// Key names the vendor (^[a-z0-9][a-z0-9-]{0,31}$): in drop-zone folders, ids, logs.
	Key string
	// Channels the vendor may deliver to ("brief", "chat").
	Channels []string
	// TokenSHA256 are the lowercase hex SHA-256 hashes of the vendor's bearer tokens
	// (several during rotation); none: the vendor delivers files only.
	TokenSHA256 []string
	// Rate (requests per second) and Burst of the vendor's token bucket.
	Rate  float64
	Burst int
	// URLHosts are the hosts attachments may be fetched from (transcripts).
	URLHosts []string
	// WebhookSecrets are Standard Webhooks secrets ("whsec_..."); when set, every POST
	// of the vendor must be signed.
	WebhookSecrets []string
}

// Allows reports whether the vendor may deliver to channel.
func (v Vendor) Allows(channel string) bool {
	for _, c := range v.Channels {
		if c == channel {
			return true
		}
	}
	return false
}
