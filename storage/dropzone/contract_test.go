package dropzone_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/storage/dropzone"
)

// zone is a drop zone under test with helpers that reach into where its items land.
type zone struct {
	ingest.DropZone
	// add delivers an item (a name with "/" lands in a folder below the zone), last
	// modified age ago.
	add func(name, content string, age time.Duration)
	// read returns the content at a path relative to the zone's root ("" when absent).
	read      func(rel string) string
	processed func() []string // names in processed/
	failed    func() []string // names in failed/, without the reason files
	reason    func(name string) string
	sub       func(name string) (zone, error)
}

// zoneOptions are the options every backend is made with in a test.
type zoneOptions struct {
	patterns []string
	minAge   time.Duration
}

// backends are the drop zones that meet the contract.
var backends = map[string]func(*testing.T, zoneOptions) zone{"dir": dirZone, "s3": s3Zone}

var emlOptions = zoneOptions{patterns: []string{"*.eml"}, minAge: 10 * time.Second}

func withoutReasons(names []string) []string {
	return slices.DeleteFunc(names, func(n string) bool { return strings.HasSuffix(n, ".reason.json") })
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

func write(t *testing.T, p, content string, mod time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	setModTime(t, p, mod)
}

func setModTime(t *testing.T, p string, mod time.Time) {
	t.Helper()
	if err := os.Chtimes(p, mod, mod); err != nil {
		t.Error(err) // not Fatal: it may run in a goroutine
	}
}

func dirZone(t *testing.T, o zoneOptions) zone {
	root := t.TempDir()
	d, err := dropzone.NewDir(root, &dropzone.DirOptions{Patterns: o.patterns, MinAge: o.minAge})
	if err != nil {
		t.Fatal(err)
	}
	return dirHelpers(t, d, root)
}

func dirHelpers(t *testing.T, d *dropzone.Dir, root string) zone {
	now := time.Now() // one clock reading, so that equal ages are equal times
	read := func(rel string) string {
		b, _ := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		return string(b)
	}
	return zone{
		DropZone: d,
		add: func(n, c string, age time.Duration) {
			write(t, filepath.Join(root, filepath.FromSlash(n)), c, now.Add(-age))
		},
		read:      read,
		processed: func() []string { return names(filepath.Join(root, "processed")) },
		failed:    func() []string { return withoutReasons(names(filepath.Join(root, "failed"))) },
		reason:    func(n string) string { return read(path.Join("failed", n+".reason.json")) },
		sub: func(name string) (zone, error) {
			s, err := d.Sub(name)
			if err != nil {
				return zone{}, err
			}
			return dirHelpers(t, s, filepath.Join(root, name)), nil
		},
	}
}

func list(t *testing.T, z ingest.DropZone) []string {
	t.Helper()
	var got []string
	err := z.List(context.Background(), func(n string, _ int64, _ time.Time) error { got = append(got, n); return nil })
	if err != nil {
		t.Fatalf("List = %v", err)
	}
	return got
}

func TestDropZoneContract(t *testing.T) {
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			z := mk(t, emlOptions)
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
			if p := z.processed(); !slices.Equal(p, []string{"a.eml"}) {
				t.Errorf("processed = %v, want [a.eml]", p)
			}
			if got := z.read("processed/a.eml"); got != "eerste" {
				t.Errorf("processed/a.eml = %q, want eerste", got)
			}
			if f := z.failed(); !slices.Equal(f, []string{"b.eml"}) {
				t.Errorf("failed = %v, want [b.eml]", f)
			}
			var r dropzone.Reason
			if err := json.Unmarshal([]byte(z.reason("b.eml")), &r); err != nil || r.Reason != "unparseable" || r.At.IsZero() {
				t.Errorf("reason of b.eml = %+v (%v), want unparseable with a time", r, err)
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

func TestDropZoneSkipsYoungAndForeignFiles(t *testing.T) {
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			z := mk(t, emlOptions)
			z.add("jong.eml", "x", 0)
			z.add("oud.pdf", "x", time.Hour)
			z.add(".verborgen.eml", "x", time.Hour)
			z.add("klaar.eml", "x", time.Hour)
			z.add("leverancier/diep.eml", "x", time.Hour)
			z.add("processed/al-gedaan.eml", "x", time.Hour)
			z.add("failed/mislukt.eml", "x", time.Hour)
			if got := list(t, z); !slices.Equal(got, []string{"klaar.eml"}) {
				t.Errorf("List = %v, want [klaar.eml]", got)
			}
		})
	}
}

func TestDropZoneTempNamesAndOrder(t *testing.T) {
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			// No patterns, no minimum age: only the temporary names are left out.
			z := mk(t, zoneOptions{minAge: -1})
			z.add("nu", "x", 0)
			z.add("b.json", "x", time.Hour)
			z.add("a.json", "x", time.Hour) // same age as b.json: by name
			z.add("oudst.pdf", "x", 2*time.Hour)
			z.add("scan.pdf.part", "x", time.Hour)
			z.add("scan.pdf.tmp", "x", time.Hour)
			z.add(".scan.pdf", "x", time.Hour)
			want := []string{"oudst.pdf", "a.json", "b.json", "nu"}
			if got := list(t, z); !slices.Equal(got, want) {
				t.Errorf("List = %v, want %v", got, want)
			}
		})
	}
}

func TestDropZoneFreeNames(t *testing.T) {
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			z := mk(t, emlOptions)
			for i, c := range []string{"een", "twee", "drie"} {
				z.add("x.eml", c, time.Minute)
				if err := z.Done(ctx, "x.eml"); err != nil {
					t.Fatalf("Done #%d = %v", i, err)
				}
				z.add("y.eml", c, time.Minute)
				if err := z.Fail(ctx, "y.eml", "invalid", "poging "+c); err != nil {
					t.Fatalf("Fail #%d = %v", i, err)
				}
			}
			if got, want := z.processed(), []string{"x.eml", "x.eml.1", "x.eml.2"}; !slices.Equal(got, want) {
				t.Errorf("processed = %v, want %v", got, want)
			}
			if got, want := z.failed(), []string{"y.eml", "y.eml.1", "y.eml.2"}; !slices.Equal(got, want) {
				t.Errorf("failed = %v, want %v", got, want)
			}
			for n, c := range map[string]string{"x.eml": "een", "x.eml.1": "twee", "x.eml.2": "drie"} {
				if got := z.read("processed/" + n); got != c {
					t.Errorf("processed/%s = %q, want %q", n, got, c)
				}
			}
			for n, c := range map[string]string{"y.eml": "een", "y.eml.1": "twee", "y.eml.2": "drie"} {
				if got := z.read("failed/" + n); got != c {
					t.Errorf("failed/%s = %q, want %q", n, got, c)
				}
				var r dropzone.Reason
				if err := json.Unmarshal([]byte(z.reason(n)), &r); err != nil || r.Reason != "invalid" || r.Detail != "poging "+c {
					t.Errorf("reason of failed/%s = %+v (%v), want invalid, poging %s", n, r, err, c)
				}
			}
			if got := list(t, z); len(got) != 0 {
				t.Errorf("List after moving everything = %v, want none", got)
			}
		})
	}
}

func TestDropZoneMissingAndInvalidNames(t *testing.T) {
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			z := mk(t, emlOptions)
			if _, err := z.Open(ctx, "weg.eml"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
			}
			if err := z.Done(ctx, "weg.eml"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Done(missing) = %v, want fs.ErrNotExist", err)
			}
			if err := z.Fail(ctx, "weg.eml", "invalid", ""); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Fail(missing) = %v, want fs.ErrNotExist", err)
			}
			if p := z.processed(); len(p) != 0 {
				t.Errorf("processed after Done(missing) = %v, want none", p)
			}
			z.add("a.eml", "x", time.Minute)
			for _, bad := range []string{"", ".", "..", "../a.eml", "sub/a.eml", "processed/a.eml"} {
				if _, err := z.Open(ctx, bad); err == nil {
					t.Errorf("Open(%q) = nil error, want one", bad)
				}
				if err := z.Done(ctx, bad); err == nil {
					t.Errorf("Done(%q) = nil, want an error", bad)
				}
				if err := z.Fail(ctx, bad, "invalid", ""); err == nil {
					t.Errorf("Fail(%q) = nil, want an error", bad)
				}
			}
		})
	}
}

func TestDropZoneSub(t *testing.T) {
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			root := mk(t, emlOptions)
			root.add("wortel.eml", "x", time.Minute)
			root.add("scanstraat/brief.eml", "brief", time.Minute)
			root.add("andere/ander.eml", "x", time.Minute)
			sub, err := root.sub("scanstraat")
			if err != nil {
				t.Fatalf("Sub(scanstraat) = %v", err)
			}
			if got := list(t, sub); !slices.Equal(got, []string{"brief.eml"}) {
				t.Errorf("sub List = %v, want [brief.eml]", got)
			}
			if got := list(t, root); !slices.Equal(got, []string{"wortel.eml"}) {
				t.Errorf("root List = %v, want [wortel.eml]", got)
			}
			if err := sub.Done(ctx, "brief.eml"); err != nil {
				t.Fatal(err)
			}
			if got := root.read("scanstraat/processed/brief.eml"); got != "brief" {
				t.Errorf("scanstraat/processed/brief.eml = %q, want brief", got)
			}
			if p := root.processed(); len(p) != 0 {
				t.Errorf("root processed = %v, want none", p)
			}
			if !strings.HasSuffix(sub.String(), "/scanstraat") {
				t.Errorf("sub String() = %q, want it to end in /scanstraat", sub.String())
			}
			for _, bad := range []string{"", ".", "..", ".verborgen", "a/b", `a\b`, "processed", "failed"} {
				if _, err := root.sub(bad); err == nil {
					t.Errorf("Sub(%q) = nil error, want one", bad)
				}
			}
		})
	}
}
