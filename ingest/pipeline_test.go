package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

func kccOptions() *ingest.MapOptions {
	kcc := ingest.ActorSpec{Naam: "KCC", SoortActor: "organisatorische_eenheid"}
	return &ingest.MapOptions{Router: &ingest.Router{Default: []ingest.TaskSpec{ingest.C1199Task(kcc)}}}
}

func run(t *testing.T, src ingest.Source, p *ingest.Pipeline) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ingest.Run(ctx, ingest.Stream{Name: "test", Channel: "email", Source: src, Parser: textParser{}, MaxBackoff: 10 * time.Millisecond}, p); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestRunStoresPublishesThenAcks(t *testing.T) {
	blobs, bus := &memBlobs{}, &memBus{}
	src := newSliceSource(textItem("a", "Vraag\nTekst"), textItem("b", "Tweede\nTekst"))
	run(t, src, &ingest.Pipeline{Blobs: blobs, Publisher: bus, Mapping: kccOptions(), CESource: "urn:test"})
	if src.acks["a"] != "done" || src.acks["b"] != "done" {
		t.Errorf("acks = %v, want both done", src.acks)
	}
	kcs := bus.topic("klantcontacten")
	if len(kcs) != 2 || len(bus.topic("internetaken")) != 2 {
		t.Fatalf("published %d klantcontacten and %d internetaken, want 2 and 2", len(kcs), len(bus.topic("internetaken")))
	}
	var reg ingest.Registration
	if err := json.Unmarshal(kcs[0].Value, &reg); err != nil {
		t.Fatal(err)
	}
	for _, io := range reg.Informatieobjecten {
		if _, ok := blobs.objects[io.ObjectKey]; !ok {
			t.Errorf("object %s of the event is not stored", io.ObjectKey)
		}
	}
	if err := ingesttest.ValidateRegistration(&reg); err != nil {
		t.Error(err)
	}
}

func TestRunRetriesTemporaryErrors(t *testing.T) {
	blobs, bus := &memBlobs{fail: 3}, &memBus{fail: 2}
	src := newSliceSource(textItem("a", "Vraag\nTekst"))
	run(t, src, &ingest.Pipeline{Blobs: blobs, Publisher: bus, Mapping: kccOptions()})
	if src.acks["a"] != "done" {
		t.Errorf("ack = %q, want done after the outage", src.acks["a"])
	}
	if n := len(bus.topic("klantcontacten")); n != 1 {
		t.Errorf("published %d klantcontacten, want 1", n)
	}
}

func TestRunPermanentAndPanicGoToFailedAndDeadLetter(t *testing.T) {
	blobs, bus := &memBlobs{}, &memBus{}
	src := newSliceSource(textItem("bad", "BAD"), textItem("panic", "PANIC"), textItem("ok", "Vraag\nTekst"))
	run(t, src, &ingest.Pipeline{Blobs: blobs, Publisher: bus, Mapping: kccOptions()})
	want := map[string]string{"bad": "failed:unparseable", "panic": "failed:panic", "ok": "done"}
	for ref, w := range want {
		if src.acks[ref] != w {
			t.Errorf("ack of %s = %q, want %q", ref, src.acks[ref], w)
		}
	}
	dl := bus.topic("instroom.deadletter")
	if len(dl) != 2 {
		t.Fatalf("dead letters = %d, want 2", len(dl))
	}
	ev, err := ingesttest.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range dl {
		if err := ev.Validate(m); err != nil {
			t.Errorf("dead letter does not match its schema: %v", err)
		}
	}
}

func TestRunTooLarge(t *testing.T) {
	bus := &memBus{}
	src := newSliceSource(textItem("big", "Vraag\n"+strings.Repeat("x", 2000)))
	run(t, src, &ingest.Pipeline{Blobs: &memBlobs{}, Publisher: bus, Mapping: kccOptions(), MaxItemBytes: 1000})
	if src.acks["big"] != "failed:too_large" {
		t.Errorf("ack = %q, want failed:too_large", src.acks["big"])
	}
}

func TestRunAbandonsUnackedAtShutdown(t *testing.T) {
	bus := &memBus{fail: 1 << 30} // Kafka stays down
	src := newSliceSource(textItem("a", "Vraag\nTekst"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- ingest.Run(ctx, ingest.Stream{Name: "t", Channel: "email", Source: src, Parser: textParser{}, MaxBackoff: 5 * time.Millisecond}, &ingest.Pipeline{Blobs: &memBlobs{}, Publisher: bus})
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if src.acks["a"] != "nack" {
		t.Errorf("ack = %q, want the item left (nack) while the publisher is down", src.acks["a"])
	}
}

func TestEventsAreDeterministic(t *testing.T) {
	var outs [2][]ingest.Message
	for i := range outs {
		bus := &memBus{}
		run(t, newSliceSource(textItem("a", "Vraag\nTekst")), &ingest.Pipeline{Blobs: &memBlobs{}, Publisher: bus, Mapping: kccOptions(), CESource: "urn:test"})
		outs[i] = bus.msgs
	}
	if fmt.Sprint(outs[0]) != fmt.Sprint(outs[1]) {
		t.Errorf("events differ between two runs of the same item")
	}
}

// Example shows a source, a parser and the pipeline wired together with in-memory fakes.
func ExampleRun() {
	bus := &memBus{}
	src := newSliceSource(textItem("mail-1", "Vraag over afval\nWanneer komt de vuilniswagen?"))
	p := &ingest.Pipeline{Blobs: &memBlobs{}, Publisher: bus, Mapping: kccOptions(), CESource: "urn:instroom:example"}
	_ = ingest.Run(context.Background(), ingest.Stream{Name: "example", Channel: "email", Source: src, Parser: textParser{}}, p)
	for _, m := range bus.msgs {
		fmt.Println(m.Topic, m.Key)
	}
	fmt.Println(src.acks["mail-1"])
	// Output:
	// klantcontacten 3d2cd879-8e32-5279-8087-8be208e4c8c7
	// internetaken 3d2cd879-8e32-5279-8087-8be208e4c8c7
	// done
}
