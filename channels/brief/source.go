package brief

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/instroom/instroom/ingest"
)

// This file is the letter drop-zone source (contracts/intake-api.md §8). A letter is a
// sidecar <scanId>.json plus the scan it names, in one vendor's folder; the sidecar marks
// it complete. Pairing rules:
//
//   - A sidecar is read while listing to learn its bestand. A sidecar that is not JSON or
//     names no valid bestand is still an item (without scan), so the parser fails it with
//     its reason.
//   - A sidecar whose scan is not there waits; a scan no sidecar names waits. After
//     PairTimeout from its modification time the waiting half is read as an item of its
//     own that fails without parsing (ingest.Item.Refused): the pipeline publishes its
//     dead letter, and its ack moves it to failed/, the sidecar with reason missing_scan,
//     the scan with missing_sidecar.
//   - Success moves the sidecar, then the scan, to processed/; a permanent failure moves
//     both to failed/ with the reason. If the sidecar moved but its scan did not, the
//     source remembers the scan and moves it at the next listing.
//   - Orphan scans after a crash (the sidecar was moved, then the worker died): when a
//     scan no sidecar at the top level names is seen for the first time, and the zone is
//     an ingest.DropStore, the source looks for the sidecar of the same stem
//     (SCAN-1.pdf → SCAN-1.json) in processed/. When that sidecar names this scan and
//     processed/ holds no scan of this name yet, the scan is the half left behind and is
//     moved to processed/. Otherwise (a new delivery reusing the name, or a sidecar of
//     another stem) it waits like any scan and goes to failed/ as missing_sidecar after
//     PairTimeout: nothing is lost, and the registration exists already.

// VendorZone is one vendor's folder of a letter drop zone.
type VendorZone struct {
	Vendor string
	Zone   ingest.DropZone
}

// SourceOptions configure a letter Source.
type SourceOptions struct {
	// PollInterval is the time between listings when nothing is ready (default 2s).
	PollInterval time.Duration
	// PairTimeout is how long a half waits for the other (default 24h).
	PairTimeout time.Duration
	// Once makes Read return ingest.ErrEndOfInput when nothing is ready or in flight.
	Once bool
	// Now returns the current time (tests); nil: time.Now.
	Now func() time.Time
	// Logger receives warnings about halves that could not be moved; nil: none.
	Logger *slog.Logger
}

// Source reads letters from the folders of the vendors allowed on channel brief. It is
// safe for concurrent Read calls and never yields a letter twice while it is in flight.
// It must be the only reader of its folders.
type Source struct {
	zones  []VendorZone
	opts   SourceOptions
	listMu sync.Mutex // one listing at a time: listing moves timed-out halves

	mu        sync.Mutex
	queue     []pair
	inflight  map[string]bool               // vendor/name of both halves of letters in flight
	bestands  map[string]map[fileKey]string // per vendor: sidecar → the bestand it names ("": none)
	checked   map[string]map[fileKey]bool   // per vendor: orphan scans found not to be left behind
	leftovers map[string]leftover           // vendor/name of scans whose sidecar was settled
	// listSeq numbers the listings; settled records, per vendor/sidecar, the number of
	// the latest listing when the letter was settled, so a listing that began before
	// does not queue it again from its stale view.
	listSeq uint64
	settled map[string]uint64
	done    chan struct{} // signalled when a letter is settled (for Once)
	backlog backlog       // for metrics and /readyz (backlog.go)
}

type fileKey struct {
	name string
	size int64
	mod  int64
}

type fileInfo struct {
	name string
	size int64
	mod  time.Time
}

func (f fileInfo) key() fileKey { return fileKey{f.name, f.size, f.mod.UnixNano()} }

// pair is a letter ready to be read; scan is nil when the sidecar names no valid bestand.
// A half whose other half did not come within PairTimeout is read alone: sidecar is that
// half (a sidecar or a scan), scan is nil, and alone is the permanent error it fails with.
type pair struct {
	vz      VendorZone
	sidecar fileInfo
	scan    *fileInfo
	alone   error
}

// leftover is how a scan whose sidecar was settled must follow it.
type leftover struct {
	failed         bool
	reason, detail string
}

var _ ingest.Source = (*Source)(nil)

// NewSource returns a source over the vendors' folders. It does no I/O.
func NewSource(zones []VendorZone, opts *SourceOptions) *Source {
	s := &Source{
		zones: zones, inflight: map[string]bool{}, bestands: map[string]map[fileKey]string{},
		checked: map[string]map[fileKey]bool{}, leftovers: map[string]leftover{}, settled: map[string]uint64{},
		done: make(chan struct{}, 1),
	}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.PollInterval <= 0 {
		s.opts.PollInterval = 2 * time.Second
	}
	if s.opts.PairTimeout <= 0 {
		s.opts.PairTimeout = defaultPairTimeout
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	if s.opts.Logger == nil {
		s.opts.Logger = slog.New(slog.DiscardHandler)
	}
	return s
}

func inflightKey(vendor, name string) string { return vendor + "/" + name }

// Read implements ingest.Source.
func (s *Source) Read(ctx context.Context) (*ingest.Item, ingest.AckFunc, error) {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.mu.Unlock()
			if err := s.refill(ctx); err != nil {
				return nil, nil, err
			}
			s.mu.Lock()
		}
		for len(s.queue) > 0 {
			p := s.queue[0]
			s.queue = s.queue[1:]
			if s.busy(p) {
				continue // another sidecar's letter holds this scan; listed again later
			}
			s.inflight[inflightKey(p.vz.Vendor, p.sidecar.name)] = true
			if p.scan != nil {
				s.inflight[inflightKey(p.vz.Vendor, p.scan.name)] = true
			}
			s.mu.Unlock()
			return p.item(), s.ackFunc(p), nil
		}
		busy := len(s.inflight) > 0
		s.mu.Unlock()
		if s.opts.Once && !busy {
			return nil, nil, ingest.ErrEndOfInput
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

// busy reports whether a half of p is in flight; s.mu is held.
func (s *Source) busy(p pair) bool {
	if s.inflight[inflightKey(p.vz.Vendor, p.sidecar.name)] {
		return true
	}
	return p.scan != nil && s.inflight[inflightKey(p.vz.Vendor, p.scan.name)]
}

func (p pair) item() *ingest.Item {
	zone, side := p.vz.Zone, p.sidecar.name
	it := &ingest.Item{
		Ref: p.vz.Vendor + "/" + side, Size: p.sidecar.size, ReceivedAt: p.sidecar.mod.UTC(), Vendor: p.vz.Vendor,
		Open:    func(ctx context.Context) (io.ReadCloser, error) { return zone.Open(ctx, side) },
		Refused: p.alone,
	}
	if sc := p.scan; sc != nil {
		name := sc.name
		it.Size += sc.size
		if sc.mod.After(p.sidecar.mod) {
			it.ReceivedAt = sc.mod.UTC()
		}
		it.Files = []ingest.ItemFile{{Name: name, Size: sc.size, Open: func(ctx context.Context) (io.ReadCloser, error) { return zone.Open(ctx, name) }}}
	}
	return it
}

// ackFunc settles a letter: sidecar first, then its scan. A scan that cannot follow its
// settled sidecar is remembered and moved at the next listing. A half alone is only ever
// failed: acked without a permanent error, it stays where it is.
func (s *Source) ackFunc(p pair) ingest.AckFunc {
	return func(ctx context.Context, err error) error {
		var left *leftover
		defer func() {
			s.mu.Lock()
			delete(s.inflight, inflightKey(p.vz.Vendor, p.sidecar.name))
			delete(s.backlog.arrived, inflightKey(p.vz.Vendor, p.sidecar.name))
			s.settled[inflightKey(p.vz.Vendor, p.sidecar.name)] = s.listSeq
			if p.scan != nil {
				delete(s.inflight, inflightKey(p.vz.Vendor, p.scan.name))
				if left != nil {
					s.leftovers[inflightKey(p.vz.Vendor, p.scan.name)] = *left
				}
			}
			s.mu.Unlock()
			select {
			case s.done <- struct{}{}:
			default:
			}
		}()
		z := p.vz.Zone
		switch {
		case p.alone != nil && !ingest.IsPermanent(err): // never handled: it stays
		case err == nil:
			if err := z.Done(ctx, p.sidecar.name); err != nil {
				return fmt.Errorf("settling letter: %w", err)
			}
			if p.scan != nil {
				if err := z.Done(ctx, p.scan.name); err != nil {
					left = &leftover{}
					return fmt.Errorf("settling scan: %w", err)
				}
			}
		case ingest.IsPermanent(err):
			reason, detail := ingest.ReasonOf(err), err.Error()
			if err := z.Fail(ctx, p.sidecar.name, reason, detail); err != nil {
				return fmt.Errorf("failing letter: %w", err)
			}
			if p.scan != nil {
				if err := z.Fail(ctx, p.scan.name, reason, detail); err != nil {
					left = &leftover{failed: true, reason: reason, detail: detail}
					return fmt.Errorf("failing scan: %w", err)
				}
			}
		}
		return nil // temporary: both stay for the next attempt
	}
}

// Close implements ingest.Source. Letters in flight stay where they are.
func (s *Source) Close() error { return nil }
