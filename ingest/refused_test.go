package ingest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

// TestRunRefusedItems: an item its source refused fails with that error without being
// parsed (the parser would panic on it): its dead letter is published first (retried
// while the broker is down), then the ack fails it with the same error. A refusal that is
// not permanent fails as rejected.
func TestRunRefusedItems(t *testing.T) {
	bus := &memBus{fail: 1}
	alone := textItem("zone/S-1.json", "PANIC")
	alone.Refused = ingest.Permanentf(ingest.ReasonUnreadable, "the other half never came")
	plain := textItem("zone/S-2.json", "PANIC")
	plain.Refused = errors.New("refused")
	src := newSliceSource(alone, plain, textItem("ok", "Vraag\nTekst"))
	acked := map[string]int{} // dead letters published when each item was acked
	inner := src.Read
	order := &orderedSource{sliceSource: src, read: func(ctx context.Context) (*ingest.Item, ingest.AckFunc, error) {
		it, ack, err := inner(ctx)
		if err != nil {
			return it, ack, err
		}
		return it, func(ctx context.Context, err error) error {
			acked[it.Ref] = len(bus.topic("instroom.deadletter"))
			return ack(ctx, err)
		}, nil
	}}
	run(t, order, &ingest.Pipeline{Blobs: &memBlobs{}, Publisher: bus, Mapping: kccOptions(), CESource: "urn:test"})
	want := map[string]string{"zone/S-1.json": "failed:unreadable", "zone/S-2.json": "failed:rejected", "ok": "done"}
	for ref, w := range want {
		if src.acks[ref] != w {
			t.Errorf("ack of %s = %q, want %q", ref, src.acks[ref], w)
		}
	}
	if acked["zone/S-1.json"] != 1 || acked["zone/S-2.json"] != 2 {
		t.Errorf("dead letters published before each ack = %v, want 1 and 2", acked)
	}
	v, err := ingesttest.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	dls := bus.topic("instroom.deadletter")
	if len(dls) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dls))
	}
	sum := sha256.Sum256([]byte("PANIC"))
	for i, w := range []struct{ ref, reason, err string }{
		{"zone/S-1.json", ingest.ReasonUnreadable, "the other half never came"},
		{"zone/S-2.json", ingest.ReasonRejected, "refused"},
	} {
		if err := v.Validate(dls[i]); err != nil {
			t.Errorf("dead letter %s: %v", dls[i].Key, err)
		}
		var dl ingest.DeadLetterEvent
		if err := json.Unmarshal(dls[i].Value, &dl); err != nil {
			t.Fatal(err)
		}
		if dl.Ref != w.ref || dl.Reason != w.reason || dl.Error != w.err || dl.SHA256 != hex.EncodeToString(sum[:]) || dl.Size != 5 {
			t.Errorf("dead letter = %+v, want ref %s, reason %s, error %q and the item's digest", dl, w.ref, w.reason, w.err)
		}
	}
}

// orderedSource is a sliceSource whose Read is wrapped.
type orderedSource struct {
	*sliceSource
	read func(ctx context.Context) (*ingest.Item, ingest.AckFunc, error)
}

func (s *orderedSource) Read(ctx context.Context) (*ingest.Item, ingest.AckFunc, error) {
	return s.read(ctx)
}

// TestHandleRefused: Handle returns the refusal as it is, before any size limit.
func TestHandleRefused(t *testing.T) {
	it := textItem("big", "Vraag\nTekst")
	it.Refused = ingest.Permanentf(ingest.ReasonRejected, "no")
	p := &ingest.Pipeline{Blobs: &memBlobs{}, Publisher: &memBus{}, Mapping: kccOptions(), MaxItemBytes: 1}
	if _, err := p.Handle(context.Background(), textParser{}, it); !errors.Is(err, it.Refused) {
		t.Errorf("Handle = %v, want the refusal", err)
	}
}
