package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
)

// slowZone is a drop zone whose second listing waits until released: it returns what was
// there when it began, as a real listing of a directory or bucket does.
type slowZone struct {
	mu      sync.Mutex
	items   map[string]bool
	lists   int
	began   chan struct{}
	release chan struct{}
}

func (z *slowZone) List(ctx context.Context, fn func(string, int64, time.Time) error) error {
	z.mu.Lock()
	z.lists++
	n := z.lists
	var names []string
	for k := range z.items {
		names = append(names, k)
	}
	z.mu.Unlock()
	if n == 2 {
		close(z.began)
		<-z.release
	}
	for _, k := range names {
		if err := fn(k, 1, time.Unix(0, 0)); err != nil {
			return err
		}
	}
	return nil
}
func (z *slowZone) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("x")), nil
}
func (z *slowZone) Done(ctx context.Context, name string) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	delete(z.items, name)
	return nil
}
func (z *slowZone) Fail(ctx context.Context, name, reason, detail string) error {
	return z.Done(ctx, name)
}
func (z *slowZone) String() string { return "slow" }

// TestDropSourceNoDoubleAfterSlowListing: an item settled while a listing that saw it was
// still running is not yielded again.
func TestDropSourceNoDoubleAfterSlowListing(t *testing.T) {
	z := &slowZone{items: map[string]bool{"a": true, "b": true}, began: make(chan struct{}), release: make(chan struct{})}
	src := ingest.NewDropSource(z, &ingest.DropSourceOptions{PollInterval: time.Millisecond, Once: true})
	ctx := context.Background()
	itA, ackA, err := src.Read(ctx) // first listing: a, b queued
	if err != nil {
		t.Fatal(err)
	}
	itB, ackB, _ := src.Read(ctx)
	// A third reader lists again (the second listing), which sees a and b and stalls.
	got := make(chan string, 1)
	go func() {
		it, ack, err := src.Read(ctx)
		if errors.Is(err, ingest.ErrEndOfInput) {
			got <- "end"
			return
		}
		got <- it.Ref
		ack(ctx, nil)
	}()
	<-z.began
	ackA(ctx, nil) // both move while the listing runs
	ackB(ctx, nil)
	close(z.release)
	select {
	case ref := <-got:
		if ref != "end" {
			t.Errorf("item %s yielded again after it was settled (first %s, %s)", ref, itA.Ref, itB.Ref)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not return")
	}
}

// goneZone lists an item whose content is gone (moved by someone else).
type goneZone struct{ slowZone }

func (z *goneZone) List(ctx context.Context, fn func(string, int64, time.Time) error) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.lists++
	if z.lists > 1 {
		return nil
	}
	return fn("weg.eml", 1, time.Unix(0, 0))
}
func (z *goneZone) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return nil, fmt.Errorf("dropzone: opening item: %w", fs.ErrNotExist)
}

// TestVanishedItemIsDroppedNotRetried: an item whose file is gone is not retried forever
// and produces no events.
func TestVanishedItemIsDroppedNotRetried(t *testing.T) {
	z := &goneZone{}
	bus := &memBus{}
	src := ingest.NewDropSource(z, &ingest.DropSourceOptions{PollInterval: time.Millisecond, Once: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := ingest.Run(ctx, ingest.Stream{Name: "t", Channel: "email", Source: src, Parser: textParser{}, MaxBackoff: time.Hour}, &ingest.Pipeline{Blobs: &memBlobs{}, Publisher: bus, Mapping: kccOptions()})
	if err != nil || ctx.Err() != nil {
		t.Fatalf("Run = %v (ctx %v), want it to end by itself", err, ctx.Err())
	}
	if len(bus.msgs) != 0 {
		t.Errorf("%d events for a vanished item", len(bus.msgs))
	}
}
