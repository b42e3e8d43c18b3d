package brief

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/instroom/instroom/ingest"
)

// Replay of failed letters (ingest.Replayer). A letter fails as a pair: its sidecar and
// the scan it names both go to the vendor's failed/ with the same reason. Replay pairs
// them again (the failed sidecar names its scan) and moves the scan back, then the
// sidecar, both with a fresh time: the zone's min_age hides them from the worker until
// both are back, and pair_timeout starts again, so neither half is taken for one that
// waited too long. A half that failed alone (missing_scan, missing_sidecar) is an item of
// its own and goes back alone, to wait for its other half again. The letter's receipt
// time becomes the time of the replay; its ids do not depend on it.

var _ ingest.Replayer = (*Source)(nil)

// failedFile is a file in a vendor's failed/.
type failedFile struct {
	name, origin, reason string
	at                   time.Time
	size                 int64
}

// failedLetter is a failed letter (a sidecar with its scan, or a half alone).
type failedLetter struct {
	vz      VendorZone
	fz      ingest.FailedZone
	primary failedFile  // the sidecar, or the half that failed alone
	scan    *failedFile // the sidecar's scan, when it failed with it
}

func (l failedLetter) item() ingest.FailedItem {
	it := ingest.FailedItem{
		Ref: l.vz.Vendor + "/" + l.primary.name, Origin: l.vz.Vendor + "/" + l.primary.origin,
		Reason: l.primary.reason, FailedAt: l.primary.at, Size: l.primary.size,
	}
	if l.scan != nil {
		it.Size += l.scan.size
	}
	fz, name := l.fz, l.primary.name
	it.Open = func(ctx context.Context) (io.ReadCloser, error) { return fz.OpenFailed(ctx, name) }
	return it
}

// ListFailed implements ingest.Replayer: every failed letter of every vendor's folder.
func (s *Source) ListFailed(ctx context.Context, fn func(ingest.FailedItem) error) error {
	for _, vz := range s.zones {
		letters, err := failedLetters(ctx, vz)
		if err != nil {
			return err
		}
		for _, l := range letters {
			if err := fn(l.item()); err != nil {
				return err
			}
		}
	}
	return nil
}

// failedLetters pairs the files in one vendor's failed/: each sidecar with a failed scan
// of the name it names (the one of the same reason that failed closest to it), and the
// halves left over on their own.
func failedLetters(ctx context.Context, vz VendorZone) ([]failedLetter, error) {
	fz, ok := vz.Zone.(ingest.FailedZone)
	if !ok {
		return nil, ingest.ErrReplayUnsupported
	}
	var sidecars, scans []failedFile
	err := fz.ListFailed(ctx, func(name, origin, reason string, at time.Time, size int64) error {
		f := failedFile{name: name, origin: origin, reason: reason, at: at, size: size}
		if isSidecar(origin) {
			sidecars = append(sidecars, f)
		} else {
			scans = append(scans, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing failed letters of vendor %s: %w", vz.Vendor, err)
	}
	claimed := map[string]bool{}
	var out []failedLetter
	for _, sc := range sidecars {
		l := failedLetter{vz: vz, fz: fz, primary: sc}
		if b := failedBestand(ctx, fz, sc.name); b != "" {
			l.scan = pickScan(sc, b, scans, claimed)
		}
		out = append(out, l)
	}
	for _, f := range scans {
		if !claimed[f.name] {
			out = append(out, failedLetter{vz: vz, fz: fz, primary: f})
		}
	}
	return out, nil
}

// failedBestand is the scan a failed sidecar names ("" when it cannot be read or names
// none).
func failedBestand(ctx context.Context, fz ingest.FailedZone, name string) string {
	rc, err := fz.OpenFailed(ctx, name)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, err := readBestand(rc)
	if err != nil {
		return ""
	}
	return b
}

// pickScan returns the unclaimed failed scan named bestand that belongs to sidecar sc,
// and claims it.
func pickScan(sc failedFile, bestand string, scans []failedFile, claimed map[string]bool) *failedFile {
	var best *failedFile
	for i := range scans {
		f := &scans[i]
		if f.origin != bestand || claimed[f.name] {
			continue
		}
		if best == nil || closer(sc, f, best) {
			best = f
		}
	}
	if best != nil {
		claimed[best.name] = true
	}
	return best
}

// closer reports whether scan a fits sidecar sc better than scan b: the same reason
// first, then the nearer failure time.
func closer(sc failedFile, a, b *failedFile) bool {
	if (a.reason == sc.reason) != (b.reason == sc.reason) {
		return a.reason == sc.reason
	}
	return abs(a.at.Sub(sc.at)) < abs(b.at.Sub(sc.at))
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// Replay implements ingest.Replayer: ref is <vendor>/<name in failed/> of a sidecar or a
// half that failed alone. A letter's scan goes back before its sidecar.
func (s *Source) Replay(ctx context.Context, ref string) (string, error) {
	vendor, name, ok := strings.Cut(ref, "/")
	var vz *VendorZone
	for i := range s.zones {
		if s.zones[i].Vendor == vendor {
			vz = &s.zones[i]
		}
	}
	if !ok || vz == nil {
		return "", fmt.Errorf("letters: not a vendor of this source: %w", fs.ErrNotExist)
	}
	letters, err := failedLetters(ctx, *vz)
	if err != nil {
		return "", err
	}
	for _, l := range letters {
		if l.primary.name != name {
			continue
		}
		if l.scan != nil {
			if _, err := l.fz.Restore(ctx, l.scan.name, true); err != nil {
				return "", fmt.Errorf("letters: restoring the scan: %w", err)
			}
		}
		origin, err := l.fz.Restore(ctx, l.primary.name, true)
		if err != nil {
			if l.scan != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("letters: restoring the sidecar (its scan is back already and waits for it): %w", err)
			}
			return "", fmt.Errorf("letters: restoring: %w", err)
		}
		return vendor + "/" + origin, nil
	}
	return "", fmt.Errorf("letters: not a failed letter: %w", fs.ErrNotExist)
}
