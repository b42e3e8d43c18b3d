package brief_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/instroom/instroom/channels/brief"
	"github.com/instroom/instroom/ingest"
)

func failedLetters(t *testing.T, s *brief.Source) map[string]ingest.FailedItem {
	t.Helper()
	out := map[string]ingest.FailedItem{}
	err := s.ListFailed(context.Background(), func(it ingest.FailedItem) error {
		out[it.Ref] = it
		return nil
	})
	if err != nil {
		t.Fatalf("ListFailed = %v", err)
	}
	return out
}

// TestSourceReplay: a failed letter is listed once (its sidecar with its scan), goes back
// as a pair with a fresh time, and is read again as the same letter; a half that failed
// alone goes back alone and waits for its other half again.
func TestSourceReplay(t *testing.T) {
	ctx := context.Background()
	lz := newLetterZone(t, "scanstraat")
	lz.letter("scanstraat", "S-1", 3*time.Hour)
	lz.put("scanstraat", "", "S-2.pdf", "%PDF-1.4 alleen", 2*time.Hour) // no sidecar: times out
	s := lz.source(true)
	_, ack := read(t, s)
	if err := ack(ctx, ingest.Permanentf(ingest.ReasonInvalid, "schema")); err != nil {
		t.Fatal(err)
	}
	it, ack := read(t, s)
	if err := ack(ctx, it.Refused); it.Refused == nil || err != nil {
		t.Fatalf("Read() = %s refused %v, acked: %v; want the half S-2.pdf alone", it.Ref, it.Refused, err)
	}
	wantEnd(t, s)
	lz.wantWhere("scanstraat", map[string]string{"S-1.json": "failed", "S-1.pdf": "failed", "S-2.pdf": "failed"})

	items := failedLetters(t, s)
	letter, half := items["scanstraat/S-1.json"], items["scanstraat/S-2.pdf"]
	if len(items) != 2 || letter.Origin != "scanstraat/S-1.json" || letter.Reason != ingest.ReasonInvalid ||
		half.Reason != brief.ReasonMissingSidecar {
		t.Fatalf("ListFailed = %+v, want the letter S-1 (invalid) and the half S-2.pdf (missing_sidecar)", items)
	}
	if got := content(t, letter.Open); got != sidecar("S-1", "S-1.pdf") {
		t.Errorf("a failed letter's content = %q, want its sidecar", got)
	}

	lz.clock.Set(t0.Add(time.Minute))
	ref, err := s.Replay(ctx, letter.Ref)
	if err != nil || ref != "scanstraat/S-1.json" {
		t.Fatalf("Replay = %q, %v", ref, err)
	}
	lz.wantWhere("scanstraat", map[string]string{"S-1.json": "top", "S-1.pdf": "top"})
	for _, n := range []string{"S-1.json", "S-1.pdf"} {
		info, _ := os.Stat(filepath.Join(lz.root, "scanstraat", n))
		if !info.ModTime().Equal(t0.Add(time.Minute)) {
			t.Errorf("%s: time %v, want the time of the replay", n, info.ModTime())
		}
		if lz.reason("scanstraat", n) != "" {
			t.Errorf("%s: reason file left", n)
		}
	}
	if _, err := s.Replay(ctx, half.Ref); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Replay(ctx, letter.Ref); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Replay = %v, want fs.ErrNotExist", err)
	}
	it, ack = read(t, s)
	if it.Ref != "scanstraat/S-1.json" || len(it.Files) != 1 || it.Files[0].Name != "S-1.pdf" {
		t.Fatalf("Read after replay = %+v, want letter S-1 with its scan", it)
	}
	ack(ctx, nil)
	wantEnd(t, s) // S-2.pdf waits for its sidecar again (pair_timeout from the replay)
	lz.wantWhere("scanstraat", map[string]string{"S-1.json": "processed", "S-1.pdf": "processed", "S-2.pdf": "top"})
}
