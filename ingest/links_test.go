package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

// memIndex is a recording ContactIndex with an injectable failure.
type memIndex struct {
	mu   sync.Mutex
	ids  map[string]string
	fail bool
}

func (x *memIndex) Lookup(ctx context.Context, key string) (string, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.fail {
		return "", errors.New("index unavailable")
	}
	return x.ids[key], nil
}

func (x *memIndex) Record(ctx context.Context, key, id string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ids == nil {
		x.ids = map[string]string{}
	}
	x.ids[key] = id
	return nil
}

// threadParser reads "own-ref\nreplied-ref\nsubject" and counts cleanups.
type threadParser struct {
	mu       sync.Mutex
	cleanups int
}

func (p *threadParser) Parse(ctx context.Context, it *ingest.Item) (*ingest.Intake, error) {
	in, err := textParser{}.Parse(ctx, it)
	if err != nil {
		return nil, err
	}
	f := strings.SplitN(in.Subject+"\n"+in.Text, "\n", 3)
	in.LinkKey = ingest.ContactKey("email", f[0])
	if f[1] != "" {
		in.Links = []string{ingest.ContactKey("email", f[1])}
	}
	in.Subject, in.Text = f[2], ""
	in.Cleanup = func() { p.mu.Lock(); p.cleanups++; p.mu.Unlock() }
	return in, nil
}

func TestRepliesLinkToTheContactTheyAnswer(t *testing.T) {
	blobs, bus, idx := &memBlobs{}, &memBus{}, &memIndex{}
	parser := &threadParser{}
	src := newSliceSource(textItem("a", "m1@x\n\nVraag over de WOZ-waarde ZAAK-2026-0000123"), textItem("b", "m2@x\nm1@x\nRe: Vraag"), textItem("c", "m3@x\nonbekend@x\nRe: iets"))
	p := &ingest.Pipeline{Blobs: blobs, Publisher: bus, Mapping: kccOptions(), Index: idx}
	p.Mapping.Zaak = ingest.ZaakOptions{Patterns: zaakPatterns(t), Uppercase: true}
	ctx := context.Background()
	if err := ingest.Run(ctx, ingest.Stream{Name: "t", Channel: "email", Source: src, Parser: parser}, p); err != nil {
		t.Fatal(err)
	}
	kcs := bus.topic("klantcontacten")
	if len(kcs) != 3 {
		t.Fatalf("%d klantcontacten, want 3", len(kcs))
	}
	regs := make([]ingest.Registration, 3)
	for i, m := range kcs {
		if err := json.Unmarshal(m.Value, &regs[i]); err != nil {
			t.Fatal(err)
		}
		if err := ingesttest.ValidateRegistration(&regs[i]); err != nil {
			t.Errorf("registration %d: %v", i, err)
		}
	}
	if o := regs[0].Onderwerpobjecten; len(o) != 1 || o[0].Onderwerpobjectidentificator == nil || o[0].Onderwerpobjectidentificator.ObjectID != "ZAAK-2026-0000123" ||
		o[0].Onderwerpobjectidentificator.CodeObjecttype != "zaak" || o[0].Onderwerpobjectidentificator.CodeRegister != "openzaak" {
		t.Errorf("onderwerpobjecten of the first = %+v, want the zaak", o)
	}
	if o := regs[1].Onderwerpobjecten; len(o) != 1 || o[0].WasKlantcontact == nil || o[0].WasKlantcontact.UUID != regs[0].Klantcontact.UUID || o[0].Klantcontact.UUID != regs[1].Klantcontact.UUID {
		t.Errorf("onderwerpobjecten of the reply = %+v, want wasKlantcontact %s", o, regs[0].Klantcontact.UUID)
	}
	if o := regs[2].Onderwerpobjecten; len(o) != 0 {
		t.Errorf("a reply to an unknown message links %+v, want nothing", o)
	}
	if parser.cleanups != 3 {
		t.Errorf("Cleanup called %d times, want 3", parser.cleanups)
	}

	// An index that cannot be read is a temporary failure: nothing is published or acked.
	idx.fail = true
	bus2 := &memBus{}
	src2 := newSliceSource(textItem("d", "m4@x\nm1@x\nRe: Vraag"))
	p2 := &ingest.Pipeline{Blobs: blobs, Publisher: bus2, Mapping: kccOptions(), Index: idx}
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_ = ingest.Run(cctx, ingest.Stream{Name: "t", Channel: "email", Source: src2, Parser: parser, MaxBackoff: 20 * time.Millisecond}, p2)
	if len(bus2.topic("klantcontacten")) != 0 || src2.acks["d"] != "nack" {
		t.Errorf("with the index down: published %d, ack %q; want nothing published and a nack", len(bus2.topic("klantcontacten")), src2.acks["d"])
	}
}

func zaakPatterns(t *testing.T) []*regexp.Regexp {
	return []*regexp.Regexp{regexp.MustCompile(`(?i)\bzaak-[0-9]{4}-[0-9]{4,10}\b`)}
}
