package ingest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestDeadLetterIdentifiesItem: a dead letter carries the digest, size and receipt time
// of its item (no digest for an item refused for its size, which is never read), and
// matches its published schema.
func TestDeadLetterIdentifiesItem(t *testing.T) {
	bus := &memBus{}
	big := "Vraag\n" + strings.Repeat("x", 2000)
	src := newSliceSource(textItem("bad", "BAD"), textItem("big", big))
	run(t, src, &ingest.Pipeline{Blobs: &memBlobs{}, Publisher: bus, Mapping: kccOptions(), MaxItemBytes: 1000})
	ev, err := ingesttest.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ingest.DeadLetterEvent{}
	for _, m := range bus.topic("instroom.deadletter") {
		if err := ev.Validate(m); err != nil {
			t.Errorf("dead letter does not match its schema: %v\n%s", err, m.Value)
		}
		var dl ingest.DeadLetterEvent
		if err := json.Unmarshal(m.Value, &dl); err != nil {
			t.Fatal(err)
		}
		got[dl.Ref] = dl
	}
	received := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	if dl := got["bad"]; dl.SHA256 != sha("BAD") || dl.Size != 3 || !dl.ReceivedAt.Equal(received) {
		t.Errorf("dead letter of bad = %+v, want sha256 of its bytes, size 3, received %v", dl, received)
	}
	if dl := got["big"]; dl.SHA256 != "" || dl.Size != int64(len(big)) || dl.Reason != ingest.ReasonTooLarge {
		t.Errorf("dead letter of big = %+v, want no digest (not read), its size, too_large", dl)
	}
}

func TestMatchDeadLetter(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	content := map[string]string{"failed-1": "een", "failed-2": "twee", "imap-7": "mail A", "imap-8": "mail B", "imap-9": "mail B"}
	digest := func(_ context.Context, it ingest.FailedItem) (string, error) { return sha(content[it.Ref]), nil }
	items := []ingest.FailedItem{
		{Ref: "a.eml", Origin: "a.eml", FailedAt: t0},
		{Ref: "failed-1", Origin: "b.eml", FailedAt: t0},
		{Ref: "failed-2", Origin: "b.eml", FailedAt: t0.Add(time.Hour)},
		{Ref: "imap-7", Size: 100, ReceivedAt: t0},
		{Ref: "imap-9", Size: 200, ReceivedAt: t0, Shared: true},
		{Ref: "imap-8", Size: 200, ReceivedAt: t0},
	}
	cases := []struct {
		name string
		ev   ingest.DeadLetterEvent
		want string // "" for not found
	}{
		{"by its name", ingest.DeadLetterEvent{Ref: "a.eml"}, "a.eml"},
		{"same name twice, by digest", ingest.DeadLetterEvent{Ref: "b.eml", SHA256: sha("een"), At: t0.Add(time.Hour)}, "failed-1"},
		{"same name twice, by time", ingest.DeadLetterEvent{Ref: "b.eml", At: t0.Add(50 * time.Minute)}, "failed-2"},
		{"new reference, by digest", ingest.DeadLetterEvent{Ref: "imap:info/INBOX/1/3", SHA256: sha("mail A")}, "imap-7"},
		{"own before shared", ingest.DeadLetterEvent{Ref: "imap:info/INBOX/1/4", SHA256: sha("mail B")}, "imap-8"},
		{"unread, by size and receipt", ingest.DeadLetterEvent{Ref: "imap:info/INBOX/1/5", Size: 100, ReceivedAt: t0}, "imap-7"},
		{"unread, other size", ingest.DeadLetterEvent{Ref: "imap:info/INBOX/1/5", Size: 101, ReceivedAt: t0}, ""},
		{"no digest, no size", ingest.DeadLetterEvent{Ref: "imap:info/INBOX/1/5"}, ""},
		{"digest of nothing failed", ingest.DeadLetterEvent{Ref: "c.eml", SHA256: sha("drie")}, ""},
	}
	for _, c := range cases {
		it, ok, err := ingest.MatchDeadLetter(ctx, c.ev, items, digest)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := it.Ref; !ok && got != "" || ok && got != c.want || !ok && c.want != "" {
			t.Errorf("%s: matched %q (%v), want %q", c.name, got, ok, c.want)
		}
	}
	// A digest that cannot be computed is an error, not "not found".
	broken := func(context.Context, ingest.FailedItem) (string, error) { return "", errors.New("server gone") }
	if _, _, err := ingest.MatchDeadLetter(ctx, ingest.DeadLetterEvent{Ref: "x", SHA256: sha("een")}, items, broken); err == nil {
		t.Error("MatchDeadLetter with a failing digest = nil error")
	}
}

// TestDropSourceWithoutFailedZone: a zone that cannot list its failed items says so.
func TestDropSourceWithoutFailedZone(t *testing.T) {
	src := ingest.NewDropSource(&slowZone{items: map[string]bool{}}, nil)
	err := src.ListFailed(context.Background(), func(ingest.FailedItem) error { return nil })
	if !errors.Is(err, ingest.ErrReplayUnsupported) {
		t.Errorf("ListFailed = %v, want ErrReplayUnsupported", err)
	}
	if _, err := src.Replay(context.Background(), "a"); !errors.Is(err, ingest.ErrReplayUnsupported) {
		t.Errorf("Replay = %v, want ErrReplayUnsupported", err)
	}
}

func TestDigest(t *testing.T) {
	open := func(context.Context) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("abc")), nil }
	if d, err := ingest.Digest(context.Background(), open); err != nil || d != sha("abc") {
		t.Errorf("Digest = %s, %v", d, err)
	}
}
