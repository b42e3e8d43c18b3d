package dropzone_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/storage/dropzone"
)

// zone is a drop zone under test with the paths where its items land.
type zone struct {
	ingest.DropZone
	add       func(name, content string, age time.Duration)
	processed func() []string
	failed    func() []string
	reason    func(name string) string
}

func names(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	return out
}

func write(t *testing.T, path, content string, age time.Duration) {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	mt := time.Now().Add(-age)
	os.Chtimes(path, mt, mt)
}

func dirZone(t *testing.T) zone {
	root := t.TempDir()
	d, err := dropzone.NewDir(root, &dropzone.DirOptions{Patterns: []string{"*.eml"}, MinAge: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return zone{
		DropZone:  d,
		add:       func(n, c string, age time.Duration) { write(t, filepath.Join(root, n), c, age) },
		processed: func() []string { return names(filepath.Join(root, "processed")) },
		failed: func() []string {
			var out []string
			for _, n := range names(filepath.Join(root, "failed")) {
				if filepath.Ext(n) != ".json" {
					out = append(out, n)
				}
			}
			return out
		},
		reason: func(n string) string {
			b, _ := os.ReadFile(filepath.Join(root, "failed", n+".reason.json"))
			return string(b)
		},
	}
}

func maildirZone(t *testing.T) zone {
	root := t.TempDir()
	m, err := dropzone.NewMaildir(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	return zone{
		DropZone: m,
		add: func(n, c string, age time.Duration) {
			// The MTA writes to tmp/ and renames into new/.
			tmp := filepath.Join(root, "tmp", n)
			write(t, tmp, c, age)
			os.Rename(tmp, filepath.Join(root, "new", n))
		},
		processed: func() []string { return names(filepath.Join(root, ".Verwerkt", "cur")) },
		failed:    func() []string { return names(filepath.Join(root, ".Mislukt", "cur")) },
		reason: func(n string) string {
			b, _ := os.ReadFile(filepath.Join(root, ".Mislukt", "instroom-reasons", n+".json"))
			return string(b)
		},
	}
}

func TestDropZoneContract(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) zone{"dir": dirZone, "maildir": maildirZone} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			z := mk(t)
			z.add("b.eml", "tweede", time.Minute)
			z.add("a.eml", "eerste", 2*time.Minute)
			z.add("c.eml", "derde", 30*time.Second)
			src := ingest.NewDropSource(z, &ingest.DropSourceOptions{PollInterval: 10 * time.Millisecond, Once: true})

			// Oldest first; an item in flight is not yielded again.
			it1, ack1, err := src.Read(ctx)
			if err != nil || it1.Ref != "a.eml" {
				t.Fatalf("Read = %v, %v; want a.eml", it1, err)
			}
			rc, _ := it1.Open(ctx)
			b, _ := io.ReadAll(rc)
			rc.Close()
			if string(b) != "eerste" || it1.Size != 6 {
				t.Errorf("content = %q size %d, want eerste 6", b, it1.Size)
			}
			it2, ack2, _ := src.Read(ctx)
			it3, ack3, _ := src.Read(ctx)
			if it2.Ref != "b.eml" || it3.Ref != "c.eml" {
				t.Fatalf("order = %s, %s; want b.eml, c.eml", it2.Ref, it3.Ref)
			}
			if err := ack1(ctx, nil); err != nil {
				t.Fatal(err)
			}
			if err := ack2(ctx, ingest.Permanentf(ingest.ReasonUnparseable, "not a mail")); err != nil {
				t.Fatal(err)
			}
			if err := ack3(ctx, errors.New("kafka down")); err != nil { // temporary: stays
				t.Fatal(err)
			}
			if p := z.processed(); len(p) != 1 {
				t.Errorf("processed = %v, want one", p)
			}
			if f := z.failed(); len(f) != 1 {
				t.Errorf("failed = %v, want one", f)
			}
			var r dropzone.Reason
			if err := json.Unmarshal([]byte(z.reason("b.eml")), &r); err != nil || r.Reason != "unparseable" {
				t.Errorf("reason of b.eml = %+v (%v), want unparseable", r, err)
			}
			// The nacked item is read again, then the source reports its end.
			it, ack, err := src.Read(ctx)
			if err != nil || it.Ref != "c.eml" {
				t.Fatalf("Read after nack = %v, %v; want c.eml again", it, err)
			}
			ack(ctx, nil)
			if _, _, err := src.Read(ctx); !errors.Is(err, ingest.ErrEndOfInput) {
				t.Errorf("Read on empty zone = %v, want ErrEndOfInput", err)
			}
		})
	}
}

func TestDirSkipsYoungAndForeignFiles(t *testing.T) {
	z := dirZone(t)
	z.add("jong.eml", "x", 0)
	z.add("oud.pdf", "x", time.Hour)
	z.add(".verborgen.eml", "x", time.Hour)
	z.add("klaar.eml", "x", time.Hour)
	var got []string
	z.List(context.Background(), func(n string, _ int64, _ time.Time) error { got = append(got, n); return nil })
	if len(got) != 1 || got[0] != "klaar.eml" {
		t.Errorf("List = %v, want [klaar.eml]", got)
	}
}

func TestMaildirIgnoresTmpAndFlagsSeen(t *testing.T) {
	root := t.TempDir()
	m, _ := dropzone.NewMaildir(root, &dropzone.MaildirOptions{ProcessedFolder: "Klaar"})
	os.WriteFile(filepath.Join(root, "tmp", "half"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(root, "new", "1.M1.host"), []byte("x"), 0o644)
	var got []string
	m.List(context.Background(), func(n string, _ int64, _ time.Time) error { got = append(got, n); return nil })
	if len(got) != 1 || got[0] != "1.M1.host" {
		t.Fatalf("List = %v, want [1.M1.host]", got)
	}
	if err := m.Done(context.Background(), "1.M1.host"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, ".Klaar", "cur", "1.M1.host:2,S")); err != nil {
		t.Errorf("processed mail not in .Klaar/cur with the Seen flag: %v", err)
	}
	for _, bad := range []string{"../x", ".hidden", "a/b"} {
		if err := m.Done(context.Background(), bad); err == nil {
			t.Errorf("Done(%q) = nil, want error", bad)
		}
	}
}
