package chat

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/instroom/instroom/ingest"
)

// pushZone is an in-memory ingest.DropStore: a recording fake with injectable failures
// (the letter channel's apiZone, for transcripts).
type pushZone struct {
	mu      sync.Mutex
	files   map[ingest.Place]map[string][]byte
	reasons map[string]string
	puts    []string
	failPut map[string]error // name → error of its Put, nothing written
	lostPut map[string]error // name → error of its Put after the file was written (a lost answer)
	removes int
}

func newPushZone() *pushZone {
	return &pushZone{files: map[ingest.Place]map[string][]byte{ingest.PlaceTop: {}, ingest.PlaceProcessed: {}, ingest.PlaceFailed: {}}, reasons: map[string]string{}, failPut: map[string]error{}, lostPut: map[string]error{}}
}

func (z *pushZone) List(ctx context.Context, fn func(string, int64, time.Time) error) error {
	z.mu.Lock()
	var names []string
	for n := range z.files[ingest.PlaceTop] {
		names = append(names, n)
	}
	z.mu.Unlock()
	sort.Strings(names)
	for _, n := range names {
		if err := fn(n, int64(len(z.get(ingest.PlaceTop, n))), time.Time{}); err != nil {
			return err
		}
	}
	return nil
}

func (z *pushZone) get(p ingest.Place, name string) []byte {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.files[p][name]
}

func (z *pushZone) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return z.OpenAt(ctx, ingest.PlaceTop, name)
}
func (z *pushZone) move(name string, to ingest.Place) {
	z.mu.Lock()
	defer z.mu.Unlock()
	delete(z.reasons, name)
	z.files[to][name] = z.files[ingest.PlaceTop][name]
	delete(z.files[ingest.PlaceTop], name)
}
func (z *pushZone) Done(ctx context.Context, name string) error {
	z.move(name, ingest.PlaceProcessed)
	return nil
}
func (z *pushZone) Fail(ctx context.Context, name, reason, detail string) error {
	z.move(name, ingest.PlaceFailed)
	z.mu.Lock()
	z.reasons[name] = reason
	z.mu.Unlock()
	return nil
}
func (z *pushZone) String() string { return "mem" }

func (z *pushZone) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if err := z.failPut[name]; err != nil {
		return err
	}
	if int64(len(b)) != size {
		return errors.New("size")
	}
	z.puts = append(z.puts, name)
	z.files[ingest.PlaceTop][name] = b
	return z.lostPut[name]
}

func (z *pushZone) Remove(ctx context.Context, name string) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.removes++
	delete(z.files[ingest.PlaceTop], name)
	return nil
}

func (z *pushZone) Locate(ctx context.Context, name string) (ingest.Place, string, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, p := range []ingest.Place{ingest.PlaceTop, ingest.PlaceProcessed, ingest.PlaceFailed} {
		if _, ok := z.files[p][name]; ok {
			return p, z.reasons[name], nil
		}
	}
	return ingest.PlaceNone, "", nil
}

func (z *pushZone) OpenAt(ctx context.Context, p ingest.Place, name string) (io.ReadCloser, error) {
	z.mu.Lock()
	b, ok := z.files[p][name]
	z.mu.Unlock()
	if !ok {
		return nil, errors.New("not found")
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

var _ ingest.DropStore = (*pushZone)(nil)
