package brief

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/instroom/instroom/ingest"
)

// This file is the idempotency and writing of a pushed letter (contract §5 and §7).

// outcome is what storing a pushed letter came to.
type outcome int

const (
	stored   outcome = iota // written as a new attempt (or its missing scan delivered)
	repeated                // identical to what is there: nothing written
	conflict                // same scanId with other content, or bestand taken
)

// recentClaimTTL is how long the API remembers which scanId a pushed bestand belongs to.
// A drop zone lists a file only once it is min_age old (default 2 s); the memory covers
// that window for letters this worker wrote itself.
const recentClaimTTL = 10 * time.Minute

// keyedMutex hands out one mutex per key, so requests for the same key are handled one
// at a time. Unused keys are dropped.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

// letterStore stores pushed letters into vendors' drop zones.
type letterStore struct {
	locks    keyedMutex
	recentMu sync.Mutex
	recent   map[string]recentClaim // vendor ␟ bestand → the scanId that pushed it
}

type recentClaim struct {
	scanID string
	at     time.Time
}

// store writes a pushed letter into zone unless the same scanId is there already; see
// the contract's §5. The caller holds the scanId's lock.
func (ls *letterStore) store(ctx context.Context, zone ingest.DropStore, vendor string, sc *Sidecar, p *push) (outcome, error) {
	unlock := ls.locks.lock("bestand\x1f" + vendor + "\x1f" + strings.ToLower(sc.Bestand))
	defer unlock()
	sidecar := sc.ScanID + ".json"
	place, _, err := zone.Locate(ctx, sidecar)
	if err != nil {
		return 0, err
	}
	scanPlace, _, err := zone.Locate(ctx, sc.Bestand)
	if err != nil {
		return 0, err
	}
	if place == ingest.PlaceTop || place == ingest.PlaceProcessed {
		same, err := sameContent(ctx, zone, place, sidecar, int64(len(p.metadata)), sha256.Sum256(p.metadata))
		if err != nil || !same {
			return conflict, err
		}
		if scanPlace == ingest.PlaceTop || scanPlace == ingest.PlaceProcessed {
			same, err := sameContent(ctx, zone, scanPlace, sc.Bestand, p.scanSize, p.scanSum)
			if err != nil || !same {
				return conflict, err
			}
			return repeated, nil
		}
		if place == ingest.PlaceProcessed {
			return repeated, nil // handled; its scan has left the zone
		}
		// The sidecar waits at the top level for its scan: deliver it.
		return stored, ls.write(ctx, zone, sc.Bestand, p, "")
	}
	if scanPlace == ingest.PlaceTop {
		taken, err := ls.claimed(ctx, zone, vendor, sc)
		if err != nil || taken {
			return conflict, err
		}
	}
	if err := ls.write(ctx, zone, sc.Bestand, p, sidecar); err != nil {
		return 0, err
	}
	ls.remember(vendor, sc)
	return stored, nil
}

// write puts the scan, then the sidecar (when named). On failure it removes what it may
// have written, so nothing half written stays behind.
func (ls *letterStore) write(ctx context.Context, zone ingest.DropStore, bestand string, p *push, sidecar string) error {
	err := zone.Put(ctx, bestand, p.scan, p.scanSize)
	if err == nil && sidecar != "" {
		err = zone.Put(ctx, sidecar, bytes.NewReader(p.metadata), int64(len(p.metadata)))
	}
	if err == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var rerr error
	if sidecar != "" {
		rerr = zone.Remove(cctx, sidecar)
	}
	rerr = errors.Join(rerr, zone.Remove(cctx, bestand))
	if rerr != nil {
		return fmt.Errorf("writing letter: %w (and removing it: %w)", err, rerr)
	}
	return fmt.Errorf("writing letter: %w", err)
}

// claimed reports whether a sidecar at the top level other than sc's own names
// sc.Bestand: one this worker pushed lately, or one the zone lists.
func (ls *letterStore) claimed(ctx context.Context, zone ingest.DropStore, vendor string, sc *Sidecar) (bool, error) {
	ls.recentMu.Lock()
	rc, ok := ls.recent[vendor+"\x1f"+sc.Bestand]
	ls.recentMu.Unlock()
	if ok && rc.scanID != sc.ScanID && time.Since(rc.at) < recentClaimTTL {
		if p, _, err := zone.Locate(ctx, rc.scanID+".json"); err != nil || p == ingest.PlaceTop {
			return true, err
		}
	}
	own := sc.ScanID + ".json"
	taken := false
	err := zone.List(ctx, func(name string, size int64, _ time.Time) error {
		if taken || name == own || !strings.HasSuffix(name, ".json") || size > maxMetadataBytes {
			return nil
		}
		r, err := zone.OpenAt(ctx, ingest.PlaceTop, name)
		if err != nil {
			return nil // moved away meanwhile
		}
		defer r.Close()
		var other struct {
			Bestand string `json:"bestand"`
		}
		if json.NewDecoder(io.LimitReader(r, maxMetadataBytes)).Decode(&other) == nil && other.Bestand == sc.Bestand {
			taken = true
		}
		return nil
	})
	return taken, err
}

func (ls *letterStore) remember(vendor string, sc *Sidecar) {
	ls.recentMu.Lock()
	defer ls.recentMu.Unlock()
	now := time.Now()
	if ls.recent == nil {
		ls.recent = map[string]recentClaim{}
	}
	if len(ls.recent) > 1000 {
		for k, v := range ls.recent {
			if now.Sub(v.at) >= recentClaimTTL {
				delete(ls.recent, k)
			}
		}
	}
	ls.recent[vendor+"\x1f"+sc.Bestand] = recentClaim{scanID: sc.ScanID, at: now}
}

// sameContent reports whether name at place holds exactly size bytes with hash sum.
func sameContent(ctx context.Context, zone ingest.DropStore, place ingest.Place, name string, size int64, sum [sha256.Size]byte) (bool, error) {
	r, err := zone.OpenAt(ctx, place, name)
	if err != nil {
		return false, err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, size+1))
	if err != nil {
		return false, err
	}
	return n == size && bytes.Equal(h.Sum(nil), sum[:]), nil
}
