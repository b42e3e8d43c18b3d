package dropzone_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/storage/dropzone"
)

type failedRow struct {
	name, origin, reason string
	size                 int64
}

func listFailed(t *testing.T, z ingest.DropZone) []failedRow {
	t.Helper()
	var out []failedRow
	err := z.(ingest.FailedZone).ListFailed(context.Background(), func(name, origin, reason string, at time.Time, size int64) error {
		if at.IsZero() {
			t.Errorf("failed item %s without a time", name)
		}
		out = append(out, failedRow{name, origin, reason, size})
		return nil
	})
	if err != nil {
		t.Fatalf("ListFailed = %v", err)
	}
	return out
}

// TestFailedZoneContract: both backends list what failed with its reason and the name it
// had, and move it back under that name, never over an item waiting under it.
func TestFailedZoneContract(t *testing.T) {
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			z := mk(t, zoneOptions{minAge: -1})
			fz := z.DropZone.(ingest.FailedZone)
			z.add("a.eml", "eerste a", 3*time.Minute)
			if err := z.Fail(ctx, "a.eml", ingest.ReasonTooLarge, "te groot"); err != nil {
				t.Fatal(err)
			}
			z.add("a.eml", "tweede a!", 2*time.Minute) // delivered again, failed again
			if err := z.Fail(ctx, "a.eml", ingest.ReasonInvalid, "ongeldig"); err != nil {
				t.Fatal(err)
			}
			z.add("b.eml", "b", time.Minute)
			if err := z.Fail(ctx, "b.eml", ingest.ReasonPoison, "vergiftigd"); err != nil {
				t.Fatal(err)
			}
			got := listFailed(t, z.DropZone)
			want := []failedRow{{"a.eml", "a.eml", "too_large", 8}, {"a.eml.1", "a.eml", "invalid", 9}, {"b.eml", "b.eml", "poison", 1}}
			slices.SortFunc(got, func(a, b failedRow) int { return cmpString(a.name, b.name) })
			if !slices.Equal(got, want) {
				t.Fatalf("ListFailed = %v, want %v", got, want)
			}
			rc, err := fz.OpenFailed(ctx, "a.eml.1")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if string(b) != "tweede a!" {
				t.Errorf("OpenFailed = %q", b)
			}

			// Back under the name it had, without its reason.
			if n, err := fz.Restore(ctx, "a.eml.1", false); err != nil || n != "a.eml" {
				t.Fatalf("Restore(a.eml.1) = %q, %v; want a.eml", n, err)
			}
			if top := list(t, z); !slices.Equal(top, []string{"a.eml"}) || z.read("a.eml") != "tweede a!" {
				t.Errorf("top level = %v (%q), want a.eml back", top, z.read("a.eml"))
			}
			if r := z.reason("a.eml.1"); r != "" {
				t.Errorf("reason file left behind: %s", r)
			}
			// The other a.eml waits for its name: it is not moved over the first.
			if _, err := fz.Restore(ctx, "a.eml", false); !errors.Is(err, fs.ErrExist) {
				t.Errorf("Restore over a waiting item = %v, want fs.ErrExist", err)
			}
			if z.read("a.eml") != "tweede a!" || z.read("failed/a.eml") != "eerste a" || z.reason("a.eml") == "" {
				t.Error("a refused Restore moved something")
			}
			if _, err := fz.Restore(ctx, "c.eml", false); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Restore of nothing = %v, want fs.ErrNotExist", err)
			}
			if got := listFailed(t, z.DropZone); len(got) != 2 {
				t.Errorf("after one Restore ListFailed = %v, want 2 items", got)
			}
		})
	}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestDropSourceReplay: through a DropSource, a replayed item is read again.
func TestDropSourceReplay(t *testing.T) {
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			z := mk(t, zoneOptions{minAge: -1})
			z.add("x.json", "{}", time.Minute)
			src := ingest.NewDropSource(z.DropZone, &ingest.DropSourceOptions{PollInterval: time.Millisecond, Once: true})
			it, ack, err := src.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := ack(ctx, ingest.Permanentf(ingest.ReasonInvalid, "schema")); err != nil {
				t.Fatal(err)
			}
			var items []ingest.FailedItem
			if err := src.ListFailed(ctx, func(f ingest.FailedItem) error { items = append(items, f); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(items) != 1 || items[0].Origin != it.Ref || items[0].Reason != ingest.ReasonInvalid || items[0].Size != 2 {
				t.Fatalf("ListFailed = %+v, want x.json (invalid, 2 bytes)", items)
			}
			if d, err := ingest.Digest(ctx, items[0].Open); err != nil || d != sha256hex("{}") {
				t.Errorf("digest of the failed item = %s, %v", d, err)
			}
			ref, err := src.Replay(ctx, items[0].Ref)
			if err != nil || ref != "x.json" {
				t.Fatalf("Replay = %q, %v", ref, err)
			}
			again, ack, err := src.Read(ctx)
			if err != nil || again.Ref != "x.json" {
				t.Fatalf("Read after Replay = %v, %v", again, err)
			}
			if err := ack(ctx, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDirRestoreKeepsTime: a restored file keeps its time (the item's receipt time),
// unless asked fresh.
func TestDirRestoreKeepsTime(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	d, err := dropzone.NewDir(root, &dropzone.DirOptions{MinAge: -1, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	old := now.Add(-48 * time.Hour)
	for _, n := range []string{"oud.eml", "vers.eml"} {
		write(t, filepath.Join(root, n), "x", old)
		if err := d.Fail(ctx, n, ingest.ReasonTooLarge, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Restore(ctx, "oud.eml", false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Restore(ctx, "vers.eml", true); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[string]time.Time{"oud.eml": old, "vers.eml": now} {
		info, err := os.Stat(filepath.Join(root, n))
		if err != nil || !info.ModTime().Equal(want) {
			t.Errorf("%s: %v, %v; want time %v", n, info.ModTime(), err, want)
		}
	}
}
