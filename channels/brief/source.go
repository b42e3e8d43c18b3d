package brief

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"sort"
	"strings"
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
//     PairTimeout from its modification time the waiting half goes to failed/, the
//     sidecar with reason missing_scan, the scan with missing_sidecar.
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
type pair struct {
	vz      VendorZone
	sidecar fileInfo
	scan    *fileInfo
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
		Open: func(ctx context.Context) (io.ReadCloser, error) { return zone.Open(ctx, side) },
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
// settled sidecar is remembered and moved at the next listing.
func (s *Source) ackFunc(p pair) ingest.AckFunc {
	return func(ctx context.Context, err error) error {
		var left *leftover
		defer func() {
			s.mu.Lock()
			delete(s.inflight, inflightKey(p.vz.Vendor, p.sidecar.name))
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

// refill lists every vendor's folder, queues the complete letters that are not queued or
// in flight yet (oldest sidecar first), and moves timed-out and left-behind halves.
func (s *Source) refill(ctx context.Context) error {
	s.listMu.Lock()
	defer s.listMu.Unlock()
	s.mu.Lock()
	s.listSeq++
	seq := s.listSeq
	s.mu.Unlock()
	var found []pair
	for _, vz := range s.zones {
		ps, err := s.listZone(ctx, vz)
		if err != nil {
			return fmt.Errorf("listing letters of vendor %s: %w", vz.Vendor, err)
		}
		found = append(found, ps...)
	}
	sort.SliceStable(found, func(i, j int) bool {
		a, b := found[i].sidecar, found[j].sidecar
		if !a.mod.Equal(b.mod) {
			return a.mod.Before(b.mod)
		}
		if found[i].vz.Vendor != found[j].vz.Vendor {
			return found[i].vz.Vendor < found[j].vz.Vendor
		}
		return a.name < b.name
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	queued := map[string]bool{}
	for _, p := range s.queue {
		queued[inflightKey(p.vz.Vendor, p.sidecar.name)] = true
	}
	for _, p := range found {
		k := inflightKey(p.vz.Vendor, p.sidecar.name)
		if at, ok := s.settled[k]; ok && at >= seq {
			continue // settled while this listing ran
		}
		if !s.busy(p) && !queued[k] {
			s.queue = append(s.queue, p)
		}
	}
	for k, at := range s.settled {
		if at < seq { // settled before this listing began: it saw the files moved
			delete(s.settled, k)
		}
	}
	return nil
}

func isSidecar(name string) bool { return strings.HasSuffix(name, ".json") }

// listZone pairs the files of one vendor's folder.
func (s *Source) listZone(ctx context.Context, vz VendorZone) ([]pair, error) {
	top := map[string]fileInfo{}
	var sidecars, scans []fileInfo
	err := vz.Zone.List(ctx, func(name string, size int64, mod time.Time) error {
		f := fileInfo{name, size, mod}
		top[name] = f
		if isSidecar(name) {
			sidecars = append(sidecars, f)
		} else {
			scans = append(scans, f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	claimed := map[string]bool{}
	bestands := map[fileKey]string{}
	var out []pair
	for _, f := range sidecars {
		if s.isInflight(vz.Vendor, f.name) {
			if b, ok := s.cachedBestand(vz.Vendor, f.key()); ok {
				claimed[b], bestands[f.key()] = true, b
			}
			continue
		}
		b, err := s.bestand(ctx, vz, f)
		if err != nil {
			continue // unreadable now: try again at the next listing
		}
		bestands[f.key()] = b
		scan, ok := top[b]
		switch {
		case b == "":
			out = append(out, pair{vz: vz, sidecar: f}) // fails in the parser with its reason
		case ok && !isSidecar(b):
			claimed[b] = true
			out = append(out, pair{vz: vz, sidecar: f, scan: &scan})
		case now.Sub(f.mod) >= s.opts.PairTimeout:
			s.fail(ctx, vz, f.name, ReasonMissingScan, "the scan the sidecar names did not arrive within pair_timeout")
		}
	}
	s.mu.Lock()
	s.bestands[vz.Vendor] = bestands
	s.mu.Unlock()
	s.orphans(ctx, vz, scans, claimed, now)
	return out, nil
}

// orphans handles the scans no sidecar at the top level names: a remembered leftover
// follows its sidecar, a scan left behind by a crash goes to processed/, and one that
// waited PairTimeout goes to failed/ as missing_sidecar.
func (s *Source) orphans(ctx context.Context, vz VendorZone, scans []fileInfo, claimed map[string]bool, now time.Time) {
	checked := map[fileKey]bool{}
	for _, f := range scans {
		if claimed[f.name] || s.isInflight(vz.Vendor, f.name) {
			continue
		}
		k := inflightKey(vz.Vendor, f.name)
		s.mu.Lock()
		left, isLeft := s.leftovers[k]
		wasChecked := s.checked[vz.Vendor][f.key()]
		s.mu.Unlock()
		switch {
		case isLeft:
			var err error
			if left.failed {
				err = vz.Zone.Fail(ctx, f.name, left.reason, left.detail)
			} else {
				err = vz.Zone.Done(ctx, f.name)
			}
			if err == nil {
				s.mu.Lock()
				delete(s.leftovers, k)
				s.mu.Unlock()
			}
			continue
		case !wasChecked:
			behind, sure := s.leftBehind(ctx, vz, f.name)
			if behind {
				if err := vz.Zone.Done(ctx, f.name); err != nil {
					s.opts.Logger.Warn("moving a scan left behind to processed failed", "vendor", vz.Vendor, "err", err)
				}
				continue
			}
			wasChecked = sure
		}
		if wasChecked {
			checked[f.key()] = true
		}
		if now.Sub(f.mod) >= s.opts.PairTimeout {
			s.fail(ctx, vz, f.name, ReasonMissingSidecar, "no sidecar named the scan within pair_timeout")
		}
	}
	s.mu.Lock()
	s.checked[vz.Vendor] = checked
	for k := range s.leftovers { // forget leftovers that vanished from the top level
		if v, name, _ := strings.Cut(k, "/"); v == vz.Vendor && !containsName(scans, name) {
			delete(s.leftovers, k)
		}
	}
	s.mu.Unlock()
}

func containsName(files []fileInfo, name string) bool {
	for _, f := range files {
		if f.name == name {
			return true
		}
	}
	return false
}

// leftBehind reports whether scan is the half a crash left behind: the sidecar of its
// stem is in processed/, names it, and processed/ holds no scan of its name. sure is
// false when the zone could not answer (ask again at the next listing).
func (s *Source) leftBehind(ctx context.Context, vz VendorZone, scan string) (behind, sure bool) {
	store, ok := vz.Zone.(ingest.DropStore)
	if !ok {
		return false, true
	}
	side := strings.TrimSuffix(scan, path.Ext(scan)) + ".json"
	place, _, err := store.Locate(ctx, side)
	if err != nil {
		return false, false
	}
	if place != ingest.PlaceProcessed {
		return false, true
	}
	rc, err := store.OpenAt(ctx, ingest.PlaceProcessed, side)
	if err != nil {
		return false, false
	}
	b, err := readBestand(rc)
	rc.Close()
	if err != nil {
		return false, false
	}
	if b != scan {
		return false, true
	}
	rc, err = store.OpenAt(ctx, ingest.PlaceProcessed, scan)
	if err == nil {
		rc.Close()
		return false, true // a new delivery reusing the name of a processed scan
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, false
	}
	return true, true
}

func (s *Source) fail(ctx context.Context, vz VendorZone, name, reason, detail string) {
	if err := vz.Zone.Fail(ctx, name, reason, detail); err != nil {
		s.opts.Logger.Warn("moving a half without its pair to failed/ failed", "vendor", vz.Vendor, "reason", reason, "err", err)
	}
}

func (s *Source) isInflight(vendor, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight[inflightKey(vendor, name)]
}

func (s *Source) cachedBestand(vendor string, k fileKey) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bestands[vendor][k]
	return b, ok
}

// bestand returns the scan name a sidecar names ("" when it is not JSON or names no valid
// bestand), reading the sidecar only when it changed since the last listing.
func (s *Source) bestand(ctx context.Context, vz VendorZone, f fileInfo) (string, error) {
	if b, ok := s.cachedBestand(vz.Vendor, f.key()); ok {
		return b, nil
	}
	rc, err := vz.Zone.Open(ctx, f.name)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	return readBestand(rc)
}

// bestandRE is the schema's pattern of bestand: a plain file name of a scan.
var bestandRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*\.([Pp][Dd][Ff]|[Tt][Ii][Ff]{1,2}|[Pp][Nn][Gg]|[Jj][Pp][Ee]?[Gg])$`)

// readBestand reads a sidecar and returns the bestand it names, "" when it is not JSON
// (as decodeSidecar sees it: a leading byte order mark is ignored) or names no valid
// bestand. An error means the sidecar could not be read.
func readBestand(r io.Reader) (string, error) {
	var v struct {
		Bestand string `json:"bestand"`
	}
	b, err := io.ReadAll(io.LimitReader(r, maxSidecarBytes+1))
	if err != nil {
		return "", err
	}
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	if len(b) > maxSidecarBytes || json.Unmarshal(b, &v) != nil {
		return "", nil
	}
	if len(v.Bestand) > 255 || !bestandRE.MatchString(v.Bestand) {
		return "", nil
	}
	return v.Bestand, nil
}
