package ingest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
)

// memAttempts is an in-memory attempt log; counts survive "restarts" (new Runs).
type memAttempts struct {
	mu sync.Mutex
	n  map[string]int
}

func (a *memAttempts) Begin(key string) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == nil {
		a.n = map[string]int{}
	}
	a.n[key]++
	return a.n[key] - 1, nil
}

func (a *memAttempts) Count(key string) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n[key], nil
}

func (a *memAttempts) End(key string, struck bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !struck {
		a.n[key]--
	}
	return nil
}

func (a *memAttempts) Clear(key string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.n, key)
	return nil
}

// An item whose earlier attempts all ended with the worker gone is poison: it goes to
// failed with its dead letter, unparsed, and the next item is handled.
func TestRunPoisonAfterAttemptsWithoutOutcome(t *testing.T) {
	att := &memAttempts{}
	key := ingest.AttemptKey("test", "poison")
	for range 3 {
		att.Begin(key) // three attempts during which the worker died
	}
	bus := &memBus{}
	src := newSliceSource(textItem("poison", "PANIC"), textItem("ok", "Vraag\nTekst"))
	run(t, src, &ingest.Pipeline{Blobs: &memBlobs{}, Publisher: bus, Mapping: kccOptions(), Attempts: att})
	if src.acks["poison"] != "failed:poison" || src.acks["ok"] != "done" {
		t.Fatalf("acks = %v", src.acks)
	}
	if len(bus.topic("instroom.deadletter")) != 1 {
		t.Fatalf("dead letters = %d, want 1", len(bus.topic("instroom.deadletter")))
	}
	if len(att.n) != 0 {
		t.Errorf("attempt log not cleared after settling: %v", att.n)
	}
}

// Two attempts without outcome are not yet poison: the item is handled normally.
func TestRunBelowPoisonLimitIsHandled(t *testing.T) {
	att := &memAttempts{}
	key := ingest.AttemptKey("test", "a")
	att.Begin(key)
	att.Begin(key)
	src := newSliceSource(textItem("a", "Vraag\nTekst"))
	run(t, src, &ingest.Pipeline{Blobs: &memBlobs{}, Publisher: &memBus{}, Mapping: kccOptions(), Attempts: att})
	if src.acks["a"] != "done" {
		t.Fatalf("ack = %q, want done", src.acks["a"])
	}
}

// hangParser blocks until its context ends: a parser stuck on an item.
type hangParser struct{}

func (hangParser) Parse(ctx context.Context, it *ingest.Item) (*ingest.Intake, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// An item that runs past the item timeout on every attempt goes to failed as poison after
// MaxAttempts attempts instead of being retried forever.
func TestRunTimeoutsMakePoison(t *testing.T) {
	att := &memAttempts{}
	bus := &memBus{}
	src := newSliceSource(textItem("slow", "Vraag\nTekst"))
	p := &ingest.Pipeline{Blobs: &memBlobs{}, Publisher: bus, Mapping: kccOptions(), Attempts: att, MaxAttempts: 2, ItemTimeout: 20 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ingest.Run(ctx, ingest.Stream{Name: "test", Channel: "email", Source: src, Parser: hangParser{}, MaxBackoff: time.Millisecond}, p); err != nil {
		t.Fatal(err)
	}
	if src.acks["slow"] != "failed:poison" {
		t.Fatalf("ack = %q, want failed:poison", src.acks["slow"])
	}
}

// concParser records how many parses run at once while a suspect ("S...") is parsed.
type concParser struct {
	mu       sync.Mutex
	active   int
	withSusp int // the most parses at once while a suspect ran
}

func (c *concParser) Parse(ctx context.Context, it *ingest.Item) (*ingest.Intake, error) {
	c.mu.Lock()
	c.active++
	c.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	c.mu.Lock()
	if it.Ref[0] == 'S' {
		c.withSusp = max(c.withSusp, c.active)
	}
	c.active--
	c.mu.Unlock()
	return textParser{}.Parse(ctx, it)
}

// An item with an earlier attempt without outcome (a suspect) runs alone: no other item
// is in flight beside it, so if the worker dies again the item is to blame.
func TestRunSuspectRunsAlone(t *testing.T) {
	att := &memAttempts{}
	att.Begin(ingest.AttemptKey("test", "S1"))
	var items []*ingest.Item
	for i := range 8 {
		items = append(items, textItem(fmt.Sprintf("n%d", i), "Vraag\nTekst"))
	}
	items = append(items[:4], append([]*ingest.Item{textItem("S1", "Vraag\nTekst")}, items[4:]...)...)
	src := newSliceSource(items...)
	cp := &concParser{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := &ingest.Pipeline{Blobs: &memBlobs{}, Publisher: &memBus{}, Mapping: kccOptions(), Attempts: att}
	if err := ingest.Run(ctx, ingest.Stream{Name: "test", Channel: "email", Source: src, Parser: cp, Workers: 4}, p); err != nil {
		t.Fatal(err)
	}
	if src.acks["S1"] != "done" {
		t.Fatalf("suspect: %q, want done", src.acks["S1"])
	}
	if cp.withSusp != 1 {
		t.Errorf("%d items in flight beside the suspect, want it alone", cp.withSusp-1)
	}
}
