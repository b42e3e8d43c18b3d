package dropzone_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
)

// store returns the zone under test as the intake API sees it.
func store(t *testing.T, z zone) ingest.DropStore {
	t.Helper()
	s, ok := z.DropZone.(ingest.DropStore)
	if !ok {
		t.Fatalf("%T is not an ingest.DropStore", z.DropZone)
	}
	return s
}

func readAt(t *testing.T, s ingest.DropStore, place ingest.Place, name string) string {
	t.Helper()
	rc, err := s.OpenAt(context.Background(), place, name)
	if err != nil {
		t.Fatalf("OpenAt(%d, %s) = %v", place, name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s at %d: %v", name, place, err)
	}
	return string(b)
}

func put(t *testing.T, s ingest.DropStore, name, content string) {
	t.Helper()
	if err := s.Put(context.Background(), name, strings.NewReader(content), int64(len(content))); err != nil {
		t.Fatalf("Put(%s) = %v", name, err)
	}
}

func wantPlace(t *testing.T, s ingest.DropStore, name string, place ingest.Place, reason string) {
	t.Helper()
	p, r, err := s.Locate(context.Background(), name)
	if err != nil || p != place || r != reason {
		t.Errorf("Locate(%s) = %d, %q, %v; want %d, %q", name, p, r, err, place, reason)
	}
}

func TestDropStorePutListOpen(t *testing.T) {
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			z := mk(t, zoneOptions{minAge: -1})
			s := store(t, z)
			put(t, s, "SCAN-1.pdf", "%PDF-1.7 eerste")
			put(t, s, "leeg.pdf", "")
			if got := list(t, z); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"SCAN-1.pdf", "leeg.pdf"}) {
				t.Errorf("List after Put = %v, want [SCAN-1.pdf leeg.pdf]", got)
			}
			rc, err := z.Open(ctx, "SCAN-1.pdf")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if string(b) != "%PDF-1.7 eerste" {
				t.Errorf("Open after Put = %q, want %q", b, "%PDF-1.7 eerste")
			}
			if got := z.read("leeg.pdf"); got != "" || readAt(t, s, ingest.PlaceTop, "leeg.pdf") != "" {
				t.Errorf("leeg.pdf = %q, want empty", got)
			}
			// Put replaces.
			put(t, s, "SCAN-1.pdf", "tweede")
			if got := z.read("SCAN-1.pdf"); got != "tweede" {
				t.Errorf("after a second Put: %q, want tweede", got)
			}
			// A reader that is short or long fails, writes nothing and keeps what was there.
			for _, c := range []struct {
				name, content string
				size          int64
			}{
				{"nieuw.pdf", "kort", 10},
				{"nieuw.pdf", "te lang", 3},
				{"nieuw.pdf", "x", 0},
				{"SCAN-1.pdf", "kort", 10},
				{"SCAN-1.pdf", "te lang", 3},
			} {
				if err := s.Put(ctx, c.name, strings.NewReader(c.content), c.size); err == nil {
					t.Errorf("Put(%s, %q, %d) = nil, want an error", c.name, c.content, c.size)
				}
			}
			if err := s.Put(ctx, "nieuw.pdf", strings.NewReader(""), -1); err == nil {
				t.Error("Put(size -1) = nil, want an error")
			}
			wantPlace(t, s, "nieuw.pdf", ingest.PlaceNone, "")
			if got := z.read("SCAN-1.pdf"); got != "tweede" {
				t.Errorf("after failed Puts: %q, want tweede", got)
			}
			if got := list(t, z); len(got) != 2 {
				t.Errorf("List after failed Puts = %v, want [SCAN-1.pdf leeg.pdf]", got)
			}
		})
	}
}

func TestDropStoreLocateOpenAtRemove(t *testing.T) {
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			z := mk(t, zoneOptions{minAge: -1})
			s := store(t, z)
			wantPlace(t, s, "a.json", ingest.PlaceNone, "")
			put(t, s, "a.json", "top")
			wantPlace(t, s, "a.json", ingest.PlaceTop, "")
			if err := s.Done(ctx, "a.json"); err != nil {
				t.Fatal(err)
			}
			wantPlace(t, s, "a.json", ingest.PlaceProcessed, "")
			put(t, s, "b.json", "kapot")
			if err := s.Fail(ctx, "b.json", "invalid", "veld ontbreekt"); err != nil {
				t.Fatal(err)
			}
			wantPlace(t, s, "b.json", ingest.PlaceFailed, "invalid")
			if got := readAt(t, s, ingest.PlaceProcessed, "a.json"); got != "top" {
				t.Errorf("OpenAt(processed, a.json) = %q, want top", got)
			}
			if got := readAt(t, s, ingest.PlaceFailed, "b.json"); got != "kapot" {
				t.Errorf("OpenAt(failed, b.json) = %q, want kapot", got)
			}
			// The top level comes first, then processed/, then failed/.
			put(t, s, "a.json", "opnieuw")
			wantPlace(t, s, "a.json", ingest.PlaceTop, "")
			if got := readAt(t, s, ingest.PlaceTop, "a.json"); got != "opnieuw" {
				t.Errorf("OpenAt(top, a.json) = %q, want opnieuw", got)
			}
			put(t, s, "b.json", "herkansing")
			if err := s.Done(ctx, "b.json"); err != nil {
				t.Fatal(err)
			}
			wantPlace(t, s, "b.json", ingest.PlaceProcessed, "")
			// Remove touches only the top level; a missing name is no error.
			for range 2 {
				if err := s.Remove(ctx, "a.json"); err != nil {
					t.Fatalf("Remove(a.json) = %v", err)
				}
			}
			wantPlace(t, s, "a.json", ingest.PlaceProcessed, "")
			if got := readAt(t, s, ingest.PlaceProcessed, "a.json"); got != "top" {
				t.Errorf("processed a.json after Remove = %q, want top", got)
			}
			// Exact names only; a reason file that is missing or unreadable gives "".
			z.add("processed/c.json.1", "x", time.Minute)
			wantPlace(t, s, "c.json", ingest.PlaceNone, "")
			z.add("failed/d.json", "x", time.Minute)
			wantPlace(t, s, "d.json", ingest.PlaceFailed, "")
			z.add("failed/e.json", "x", time.Minute)
			z.add("failed/e.json.reason.json", "{geen json", time.Minute)
			wantPlace(t, s, "e.json", ingest.PlaceFailed, "")
			// Folders are not items.
			z.add("leverancier/f.json", "x", time.Minute)
			for _, dir := range []string{"leverancier", "processed", "failed"} {
				wantPlace(t, s, dir, ingest.PlaceNone, "")
				if rc, err := s.OpenAt(ctx, ingest.PlaceTop, dir); err == nil {
					rc.Close()
					t.Errorf("OpenAt(top, %s) = nil error, want one", dir)
				}
				s.Remove(ctx, dir)
			}
			if got := z.read("leverancier/f.json"); got != "x" {
				t.Errorf("leverancier/f.json after Remove(leverancier) = %q, want x", got)
			}
			if got := z.read("processed/a.json"); got != "top" {
				t.Errorf("processed/a.json after Remove(processed) = %q, want top", got)
			}
		})
	}
}

func TestDropStoreMissingAndInvalid(t *testing.T) {
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			z := mk(t, zoneOptions{minAge: -1})
			s := store(t, z)
			const citizen = "Brief-Jansen-Dorpsstraat.pdf"
			for _, place := range []ingest.Place{ingest.PlaceTop, ingest.PlaceProcessed, ingest.PlaceFailed} {
				_, err := s.OpenAt(ctx, place, citizen)
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("OpenAt(%d, missing) = %v, want fs.ErrNotExist", place, err)
				}
				if err != nil && strings.Contains(err.Error(), "Jansen") {
					t.Errorf("OpenAt(%d) error %q names the item", place, err)
				}
			}
			put(t, s, "a.pdf", "x")
			for _, place := range []ingest.Place{ingest.PlaceNone, 4, -1} {
				if rc, err := s.OpenAt(ctx, place, "a.pdf"); err == nil {
					rc.Close()
					t.Errorf("OpenAt(%d, a.pdf) = nil error, want one", place)
				}
			}
			bad := []string{"", ".", "..", "../a.pdf", "../../uit.pdf", "sub/a.pdf", `sub\a.pdf`, "processed/a.pdf",
				".verborgen.pdf", ".tmp-123", "a.pdf.tmp", "a.pdf.part", "a\x00.pdf"}
			for _, n := range bad {
				if err := s.Put(ctx, n, strings.NewReader("x"), 1); err == nil {
					t.Errorf("Put(%q) = nil, want an error", n)
				}
				if err := s.Remove(ctx, n); err == nil {
					t.Errorf("Remove(%q) = nil, want an error", n)
				}
				if _, _, err := s.Locate(ctx, n); err == nil {
					t.Errorf("Locate(%q) = nil error, want one", n)
				}
				if _, err := s.OpenAt(ctx, ingest.PlaceTop, n); err == nil {
					t.Errorf("OpenAt(%q) = nil error, want one", n)
				}
			}
			if got := list(t, z); !slices.Equal(got, []string{"a.pdf"}) {
				t.Errorf("List after invalid names = %v, want [a.pdf]", got)
			}
			if p := z.processed(); len(p) != 0 {
				t.Errorf("processed = %v, want none", p)
			}
			if got := z.read("../uit.pdf"); got != "" {
				t.Errorf("../uit.pdf = %q, want nothing written outside the zone", got)
			}
		})
	}
}
