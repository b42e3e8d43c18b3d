package brief

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/instroom/instroom/ingest"
)

// Listing and pairing of the letter drop-zone source (see source.go): sidecars with their
// scans, halves that wait, time out or were left behind by a crash.

// refill lists every vendor's folder, queues the complete letters and the timed-out halves
// that are not queued or in flight yet (oldest first), and moves left-behind halves.
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
			if ctx.Err() == nil {
				s.mu.Lock()
				s.noteListing(nil, err)
				s.mu.Unlock()
			}
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
	s.noteListing(found, nil)
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
			out = append(out, pair{vz: vz, sidecar: f, alone: errMissingScan})
		}
	}
	s.mu.Lock()
	s.bestands[vz.Vendor] = bestands
	s.mu.Unlock()
	return append(out, s.orphans(ctx, vz, scans, claimed, now)...), nil
}

// The errors a half fails with when its other half did not come within PairTimeout. The
// source yields the half as an item of its own with the error as its ingest.Item.Refused,
// so the pipeline publishes its dead letter before the ack moves it to failed/.
var (
	errMissingScan    = ingest.Permanentf(ReasonMissingScan, "the scan the sidecar names did not arrive within pair_timeout")
	errMissingSidecar = ingest.Permanentf(ReasonMissingSidecar, "no sidecar named the scan within pair_timeout")
)

// orphans handles the scans no sidecar at the top level names: a remembered leftover
// follows its sidecar, a scan left behind by a crash goes to processed/, and those that
// waited PairTimeout are returned, to be read as halves alone (missing_sidecar).
func (s *Source) orphans(ctx context.Context, vz VendorZone, scans []fileInfo, claimed map[string]bool, now time.Time) []pair {
	checked := map[fileKey]bool{}
	var alone []pair
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
			alone = append(alone, pair{vz: vz, sidecar: f, alone: errMissingSidecar})
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
	return alone
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
