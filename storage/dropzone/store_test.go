package dropzone_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/storage/dropzone"
)

// Both zones are ingest.DropStores; cmd's wiring relies on it.
var (
	_ ingest.DropStore = (*dropzone.Dir)(nil)
	_ ingest.DropStore = (*dropzone.S3Zone)(nil)
)

func TestPlacesMatchIngest(t *testing.T) {
	for _, c := range []struct{ got, want ingest.Place }{
		{dropzone.PlaceNone, ingest.PlaceNone},
		{dropzone.PlaceTop, ingest.PlaceTop},
		{dropzone.PlaceProcessed, ingest.PlaceProcessed},
		{dropzone.PlaceFailed, ingest.PlaceFailed},
	} {
		if c.got != c.want {
			t.Errorf("dropzone place = %d, want ingest's %d", c.got, c.want)
		}
	}
}

// putCase is a reader handed to Put with a declared size, and whether Put must succeed.
type putCase struct {
	name string
	r    func() io.Reader
	size int64
	ok   bool
}

const putContent = "%PDF-1.7 een brief van een burger"

var putCases = []putCase{
	{"exact", func() io.Reader { return strings.NewReader(putContent) }, int64(len(putContent)), true},
	{"one byte at a time", func() io.Reader { return iotest.OneByteReader(strings.NewReader(putContent)) }, int64(len(putContent)), true},
	{"data with EOF", func() io.Reader { return iotest.DataErrReader(strings.NewReader(putContent)) }, int64(len(putContent)), true},
	{"half reads", func() io.Reader { return iotest.HalfReader(strings.NewReader(putContent)) }, int64(len(putContent)), true},
	{"empty", func() io.Reader { return strings.NewReader("") }, 0, true},
	{"big", func() io.Reader { return strings.NewReader(strings.Repeat("x", 3<<20+7)) }, 3<<20 + 7, true},
	{"short", func() io.Reader { return strings.NewReader(putContent) }, int64(len(putContent)) + 1, false},
	{"long", func() io.Reader { return strings.NewReader(putContent) }, int64(len(putContent)) - 1, false},
	{"long by one byte at a time", func() io.Reader { return iotest.OneByteReader(strings.NewReader(putContent)) }, 5, false},
	{"surplus on empty", func() io.Reader { return strings.NewReader("x") }, 0, false},
	{"big and short", func() io.Reader { return strings.NewReader(strings.Repeat("x", 3<<20)) }, 3<<20 + 1, false},
	{"read error", func() io.Reader {
		return io.MultiReader(strings.NewReader(putContent), iotest.ErrReader(errors.New("verbinding weg")))
	}, 100, false},
	{"timeout", func() io.Reader { return iotest.TimeoutReader(strings.NewReader(putContent)) }, int64(len(putContent)), false},
}

// checkPut runs the put cases against s and calls left after each to get the names
// stored anywhere in the zone's top level, temporary ones included.
func checkPut(t *testing.T, s ingest.DropStore, left func() []string) {
	ctx := context.Background()
	for _, c := range putCases {
		t.Run(c.name, func(t *testing.T) {
			const name = "Brief-Jansen.pdf"
			err := s.Put(ctx, name, c.r(), c.size)
			if (err == nil) != c.ok {
				t.Fatalf("Put(%s, size %d) = %v, want ok %v", c.name, c.size, err, c.ok)
			}
			got := left()
			if !c.ok {
				t.Logf("Put error: %v", err)
				if strings.Contains(err.Error(), "Jansen") {
					t.Errorf("Put error %q names the item", err)
				}
				if len(got) != 0 {
					t.Errorf("after a failed Put the zone holds %v, want nothing", got)
				}
				return
			}
			if !slices.Equal(got, []string{name}) {
				t.Errorf("after Put the zone holds %v, want [%s]", got, name)
			}
			rc, err := s.OpenAt(ctx, ingest.PlaceTop, name)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, rc)
			rc.Close()
			if n != c.size {
				t.Errorf("stored %d bytes, want %d", n, c.size)
			}
			if err := s.Remove(ctx, name); err != nil {
				t.Fatal(err)
			}
			if got := left(); len(got) != 0 {
				t.Errorf("after Remove the zone holds %v, want nothing", got)
			}
		})
	}
}

func TestDirPutReaders(t *testing.T) {
	root := t.TempDir()
	d, err := dropzone.NewDir(root, &dropzone.DirOptions{MinAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	checkPut(t, d, func() []string { return names(root) })
}

func TestS3PutReaders(t *testing.T) {
	e := startS3(t)
	z, err := dropzone.NewS3Zone(e.conn, &dropzone.S3ZoneOptions{MinAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	checkPut(t, z, func() []string {
		got := e.names(t, testPrefix)
		// And nothing the gateway keeps on disk for a broken upload, in the zone's folder.
		dir := filepath.Join(e.srv.Dir, testBucket, filepath.FromSlash(testPrefix))
		if disk := names(dir); !slices.Equal(disk, got) {
			t.Errorf("gateway's folder holds %v, the listing %v", disk, got)
		}
		return got
	})
}

func TestPutCancelled(t *testing.T) {
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			z := mk(t, zoneOptions{minAge: -1})
			s := store(t, z)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := s.Put(ctx, "a.pdf", strings.NewReader("inhoud"), 6); !errors.Is(err, context.Canceled) {
				t.Errorf("Put with ctx cancelled = %v, want context.Canceled", err)
			}
			wantPlace(t, s, "a.pdf", ingest.PlaceNone, "")
		})
	}
}

// A crash during Put leaves a ".tmp-*" file behind (fsutil.WriteFile's temporary name);
// it is never listed, located or opened, and a later Put of the item succeeds.
func TestDirLeftoverTempFile(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, err := dropzone.NewDir(root, &dropzone.DirOptions{MinAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, ".tmp-4242"), "halve scan", time.Now().Add(-time.Hour))
	if got := list(t, d); len(got) != 0 {
		t.Errorf("List with a leftover temporary file = %v, want none", got)
	}
	if _, _, err := d.Locate(ctx, ".tmp-4242"); err == nil {
		t.Error("Locate(.tmp-4242) = nil error, want one")
	}
	if _, err := d.OpenAt(ctx, ingest.PlaceTop, ".tmp-4242"); err == nil {
		t.Error("OpenAt(.tmp-4242) = nil error, want one")
	}
	put(t, d, "a.pdf", "heel")
	if got := list(t, d); !slices.Equal(got, []string{"a.pdf"}) {
		t.Errorf("List = %v, want [a.pdf]", got)
	}
}

// A symbolic link at the top level is not an item (List skips it too), and Remove does
// not remove what it points to.
func TestDirSymlinkIsNotAnItem(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, err := dropzone.NewDir(root, &dropzone.DirOptions{MinAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "geheim.pdf")
	write(t, outside, "geheim", time.Now())
	if err := os.Symlink(outside, filepath.Join(root, "link.pdf")); err != nil {
		t.Skip(err)
	}
	wantPlace(t, d, "link.pdf", ingest.PlaceNone, "")
	if err := d.Remove(ctx, "link.pdf"); err != nil {
		t.Errorf("Remove(link.pdf) = %v", err)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("target of the link after Remove: %v", err)
	}
	if _, err := d.OpenAt(ctx, ingest.PlaceTop, "weg.pdf"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenAt(missing) = %v, want fs.ErrNotExist", err)
	}
}

// FuzzDirPut: Put succeeds exactly when the reader holds the declared size, and then
// stores the content unchanged; a failed Put leaves the directory empty.
func FuzzDirPut(f *testing.F) {
	f.Add([]byte("inhoud"), int64(6), uint8(0))
	f.Add([]byte("inhoud"), int64(5), uint8(1))
	f.Add([]byte(""), int64(0), uint8(3))
	f.Add([]byte("x"), int64(0), uint8(2))
	f.Fuzz(func(t *testing.T, content []byte, size int64, mode uint8) {
		if size > 1<<20 || size < 0 {
			return
		}
		root := t.TempDir()
		d, err := dropzone.NewDir(root, &dropzone.DirOptions{MinAge: -1})
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = strings.NewReader(string(content))
		switch mode % 4 {
		case 1:
			r = iotest.OneByteReader(r)
		case 2:
			r = iotest.DataErrReader(r)
		case 3:
			r = iotest.HalfReader(r)
		}
		err = d.Put(context.Background(), "a.pdf", r, size)
		if ok := int64(len(content)) == size; (err == nil) != ok {
			t.Fatalf("Put(%d bytes, size %d) = %v, want ok %v", len(content), size, err, ok)
		}
		b, rerr := os.ReadFile(filepath.Join(root, "a.pdf"))
		switch {
		case err == nil && (rerr != nil || string(b) != string(content)):
			t.Errorf("stored %q (%v), want %q", b, rerr, content)
		case err != nil && len(names(root)) != 0:
			t.Errorf("after a failed Put the directory holds %v", names(root))
		}
	})
}
