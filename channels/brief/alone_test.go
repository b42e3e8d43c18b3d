package brief_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/instroom/instroom/channels/brief"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/dropzone"
)

// Halves whose other half did not come within pair_timeout are read as items of their own
// that the pipeline fails (ingest.Item.Refused): a dead letter, then failed/.

const (
	detailMissingScan    = "the scan the sidecar names did not arrive within pair_timeout"
	detailMissingSidecar = "no sidecar named the scan within pair_timeout"
)

// readAlone reads the next item and wants it to be the half ref (vendor/name) alone,
// refused with reason, its bytes content, and still at the top level.
func readAlone(t *testing.T, lz *letterZone, s *brief.Source, ref, reason, body string) (*ingest.Item, ingest.AckFunc) {
	t.Helper()
	it, ack := read(t, s)
	vendor, name, _ := strings.Cut(ref, "/")
	switch {
	case it.Ref != ref || it.Vendor != vendor:
		t.Fatalf("Read() = %s of vendor %s, want the half %s alone", it.Ref, it.Vendor, ref)
	case it.Refused == nil || !ingest.IsPermanent(it.Refused) || ingest.ReasonOf(it.Refused) != reason:
		t.Fatalf("half %s: Refused = %v, want a permanent error with reason %s", ref, it.Refused, reason)
	case strings.Contains(it.Refused.Error(), strings.TrimSuffix(name, filepath.Ext(name))):
		t.Errorf("half %s: the error %q names the file", ref, it.Refused)
	case len(it.Files) != 0 || it.Size != int64(len(body)):
		t.Errorf("half %s: files %+v, size %d; want none and %d", ref, it.Files, it.Size, len(body))
	}
	if got := content(t, it.Open); got != body {
		t.Errorf("half %s opens %q, want %q", ref, got, body)
	}
	if w := lz.where(vendor, name); w != "top" {
		t.Errorf("half %s is in %q while it is read, want top: only its ack moves it", ref, w)
	}
	return it, ack
}

// failure is the reason file of a file in a vendor's failed/.
func (lz *letterZone) failure(vendor, name string) dropzone.Reason {
	lz.t.Helper()
	var r dropzone.Reason
	b, err := os.ReadFile(filepath.Join(lz.root, vendor, "failed", name+".reason.json"))
	if err != nil {
		lz.t.Errorf("no reason file for %s/%s: %v", vendor, name, err)
		return r
	}
	if err := json.Unmarshal(b, &r); err != nil {
		lz.t.Fatal(err)
	}
	return r
}

func (lz *letterZone) wantFailure(vendor, name, reason, detail string) {
	lz.t.Helper()
	if r := lz.failure(vendor, name); r.Reason != reason || r.Detail != detail || r.Name != name {
		lz.t.Errorf("reason file of %s/%s = %+v, want reason %s, detail %q", vendor, name, r, reason, detail)
	}
}

// TestSourceWaitingHalvesTimeOut: a sidecar without its scan and a scan no sidecar names
// wait; after pair_timeout each is read alone, refused with its reason, and only a
// permanent ack moves it to failed/ (with the reason and its error as detail).
func TestSourceWaitingHalvesTimeOut(t *testing.T) {
	ctx := context.Background()
	lz := newLetterZone(t, "scanstraat")
	side, scan := sidecar("S-1", "S-1.pdf"), "II*\x00orphan"
	lz.put("scanstraat", "", "S-1.json", side, 10*time.Minute) // its scan is missing
	lz.put("scanstraat", "", "S-2.tif", scan, 20*time.Minute)  // no sidecar names it
	s := lz.source(true)
	wantEnd(t, s)
	lz.wantWhere("scanstraat", map[string]string{"S-1.json": "top", "S-2.tif": "top"})

	lz.clock.Set(t0.Add(time.Hour - 15*time.Minute)) // the scan waited an hour, the sidecar not yet
	it, ack := readAlone(t, lz, s, "scanstraat/S-2.tif", brief.ReasonMissingSidecar, scan)
	if _, ok := s.Oldest(); ok {
		t.Error("Oldest() counts a half alone as a waiting letter")
	}
	// Not failed for good (its dead letter could not be published; nil is never the
	// outcome of a refused item): it stays and is read again.
	for _, outcome := range []error{errors.New("kafka unreachable"), nil} {
		if err := ack(ctx, outcome); err != nil {
			t.Fatalf("ack(%v) = %v", outcome, err)
		}
		lz.wantWhere("scanstraat", map[string]string{"S-2.tif": "top"})
		it, ack = readAlone(t, lz, s, "scanstraat/S-2.tif", brief.ReasonMissingSidecar, scan)
	}
	if err := ack(ctx, it.Refused); err != nil {
		t.Fatalf("ack(refused) = %v", err)
	}
	wantEnd(t, s)
	lz.wantWhere("scanstraat", map[string]string{"S-1.json": "top", "S-2.tif": "failed"})
	lz.wantFailure("scanstraat", "S-2.tif", brief.ReasonMissingSidecar, detailMissingSidecar)

	lz.clock.Set(t0.Add(time.Hour))
	it, ack = readAlone(t, lz, s, "scanstraat/S-1.json", brief.ReasonMissingScan, side)
	if err := ack(ctx, it.Refused); err != nil {
		t.Fatalf("ack(refused) = %v", err)
	}
	wantEnd(t, s)
	lz.wantWhere("scanstraat", map[string]string{"S-1.json": "failed"})
	lz.wantFailure("scanstraat", "S-1.json", brief.ReasonMissingScan, detailMissingScan)
}

// TestSourceHalfAloneAndLetter: letters still pair while halves time out beside them, in
// the order of their times; a half alone never holds a letter's file.
func TestSourceHalfAloneAndLetter(t *testing.T) {
	lz := newLetterZone(t, "scanstraat")
	lz.letter("scanstraat", "S-1", 3*time.Hour)
	lz.put("scanstraat", "", "S-2.json", sidecar("S-2", "S-2.pdf"), 2*time.Hour)
	lz.letter("scanstraat", "S-3", time.Minute)
	s := lz.source(true)
	var refs []string
	for range 3 {
		it, ack := read(t, s)
		refs = append(refs, it.Ref)
		if (it.Refused == nil) != (len(it.Files) == 1) {
			t.Errorf("item %s: refused %v with %d files", it.Ref, it.Refused, len(it.Files))
		}
		outcome := it.Refused
		if err := ack(context.Background(), outcome); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(refs, " "); got != "scanstraat/S-1.json scanstraat/S-2.json scanstraat/S-3.json" {
		t.Errorf("Read order = %s", got)
	}
	wantEnd(t, s)
	lz.wantWhere("scanstraat", map[string]string{
		"S-1.json": "processed", "S-1.pdf": "processed", "S-2.json": "failed", "S-3.json": "processed", "S-3.pdf": "processed",
	})
}

// deadLetterBus records dead letters with where their item was when each was published,
// and fails the first publish.
type deadLetterBus struct {
	lz     *letterZone
	mu     sync.Mutex
	failed bool
	events []ingest.Message
	where  map[string][]string // ref → place of the file at each publish, failed ones too
}

func (b *deadLetterBus) Publish(ctx context.Context, msgs ...ingest.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range msgs {
		vendor, name, _ := strings.Cut(m.Key, "/")
		b.where[m.Key] = append(b.where[m.Key], b.lz.where(vendor, name))
	}
	if !b.failed {
		b.failed = true
		return errors.New("broker unavailable")
	}
	b.events = append(b.events, msgs...)
	return nil
}

// recordingObserver records the outcome of every item.
type recordingObserver struct {
	mu   sync.Mutex
	done []string
}

func (o *recordingObserver) ItemDone(source, channel, outcome, reason string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done = append(o.done, source+" "+channel+" "+outcome+" "+reason)
}

func (o *recordingObserver) SourceUp(string, bool) {}

// noParser fails the test when the pipeline parses an item.
type noParser struct{ t *testing.T }

func (p noParser) Parse(ctx context.Context, it *ingest.Item) (*ingest.Intake, error) {
	p.t.Errorf("the pipeline parsed %s", it.Ref)
	return nil, ingest.Permanentf(ingest.ReasonInvalid, "parsed")
}

// TestHalvesAloneAreDeadLetters runs the pipeline over halves that timed out: each gets
// a dead letter (published while it is still at the top level, retried when the broker
// fails) and is counted as a permanent failure with its reason before its ack moves it
// to failed/. Its dead letter finds it there, and replay puts it back to wait again.
func TestHalvesAloneAreDeadLetters(t *testing.T) {
	ctx := context.Background()
	lz := newLetterZone(t, "scanstraat")
	side, scan := sidecar("S-1", "S-1.pdf"), "II*\x00orphan"
	lz.put("scanstraat", "", "S-1.json", side, 2*time.Hour)
	lz.put("scanstraat", "", "S-2.tif", scan, 3*time.Hour)
	s := lz.source(true)
	bus := &deadLetterBus{lz: lz, where: map[string][]string{}}
	obs := &recordingObserver{}
	p := &ingest.Pipeline{Publisher: bus, Observer: obs, CESource: "urn:test"}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := ingest.Run(rctx, ingest.Stream{Name: "brieven", Channel: "brief", Source: s, Parser: noParser{t}, MaxBackoff: time.Millisecond}, p); err != nil {
		t.Fatalf("Run = %v", err)
	}
	lz.wantWhere("scanstraat", map[string]string{"S-1.json": "failed", "S-2.tif": "failed"})
	lz.wantFailure("scanstraat", "S-1.json", brief.ReasonMissingScan, detailMissingScan)
	lz.wantFailure("scanstraat", "S-2.tif", brief.ReasonMissingSidecar, detailMissingSidecar)
	if got := strings.Join(obs.done, ", "); got != "brieven brief temporary , brieven brief permanent missing_sidecar, brieven brief permanent missing_scan" {
		t.Errorf("outcomes = %s", got)
	}
	for ref, places := range bus.where {
		for _, w := range places {
			if w != "top" {
				t.Errorf("dead letter of %s published while it was in %q, want top", ref, w)
			}
		}
	}

	v, err := ingesttest.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"scanstraat/S-1.json": {brief.ReasonMissingScan, side},
		"scanstraat/S-2.tif":  {brief.ReasonMissingSidecar, scan},
	}
	var failed []ingest.FailedItem
	s.ListFailed(ctx, func(it ingest.FailedItem) error { failed = append(failed, it); return nil })
	if len(bus.events) != 2 || len(failed) != 2 {
		t.Fatalf("%d dead letters and %d failed items, want 2 and 2", len(bus.events), len(failed))
	}
	for _, m := range bus.events {
		if err := v.Validate(m); err != nil {
			t.Errorf("dead letter %s: %v", m.Key, err)
		}
		var dl ingest.DeadLetterEvent
		if err := json.Unmarshal(m.Value, &dl); err != nil {
			t.Fatal(err)
		}
		w, ok := want[dl.Ref]
		sum := sha256.Sum256([]byte(w[1]))
		if !ok || dl.Source != "brieven" || dl.Channel != "brief" || dl.Reason != w[0] || dl.SHA256 != hex.EncodeToString(sum[:]) || dl.Size != int64(len(w[1])) {
			t.Errorf("dead letter = %+v, want one of %v", dl, want)
		}
		delete(want, dl.Ref)
		it, found, err := ingest.MatchDeadLetter(ctx, dl, failed, func(ctx context.Context, it ingest.FailedItem) (string, error) {
			return ingest.Digest(ctx, it.Open)
		})
		if err != nil || !found || it.Origin != dl.Ref || it.Reason != dl.Reason {
			t.Errorf("MatchDeadLetter(%s) = %+v, %v, %v", dl.Ref, it, found, err)
			continue
		}
		if back, err := s.Replay(ctx, it.Ref); err != nil || back != dl.Ref {
			t.Errorf("Replay(%s) = %q, %v; want %s", it.Ref, back, err, dl.Ref)
		}
	}
	lz.wantWhere("scanstraat", map[string]string{"S-1.json": "top", "S-2.tif": "top"})
	wantEnd(t, s) // both wait again: pair_timeout counts from the replay
}
