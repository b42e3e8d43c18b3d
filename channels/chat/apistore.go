package chat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/instroom/instroom/ingest"
)

// This file is the idempotency and writing of a pushed transcript (contract §5 and §7).

// pushOutcome is what storing a pushed transcript came to.
type pushOutcome int

const (
	pushStored   pushOutcome = iota // written as a new attempt
	pushRepeated                    // identical to what is there: nothing written
	pushConflict                    // same gesprekId with other content
)

// gesprekStore stores pushed transcripts into vendors' drop zones.
type gesprekStore struct {
	locks keyedMutex
}

// store writes body as name into zone unless name is there already (top level or
// processed/): byte-identical is a repeat, anything else a conflict. Only in failed/ (or
// not at all) it is written as a new attempt. The caller holds the key's lock.
func (gs *gesprekStore) store(ctx context.Context, zone ingest.DropStore, name string, body []byte) (pushOutcome, error) {
	place, _, err := zone.Locate(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("locating transcript: %w", err)
	}
	if place == ingest.PlaceTop || place == ingest.PlaceProcessed {
		same, err := sameBytes(ctx, zone, place, name, body)
		switch {
		case err != nil:
			return 0, fmt.Errorf("comparing transcript: %w", err)
		case same:
			return pushRepeated, nil
		}
		return pushConflict, nil
	}
	if err := zone.Put(ctx, name, bytes.NewReader(body), int64(len(body))); err != nil {
		// Nothing half written may stay behind (§6): remove what the PUT may have left.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if rerr := zone.Remove(cctx, name); rerr != nil {
			return 0, fmt.Errorf("writing transcript: %w (and removing it: %w)", err, rerr)
		}
		return 0, fmt.Errorf("writing transcript: %w", err)
	}
	return pushStored, nil
}

// sameBytes reports whether name at place holds exactly body.
func sameBytes(ctx context.Context, zone ingest.DropStore, place ingest.Place, name string, body []byte) (bool, error) {
	r, err := zone.OpenAt(ctx, place, name)
	if err != nil {
		return false, err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, int64(len(body))+1))
	if err != nil {
		return false, err
	}
	want := sha256.Sum256(body)
	return n == int64(len(body)) && bytes.Equal(h.Sum(nil), want[:]), nil
}

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
