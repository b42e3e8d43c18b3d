package attempts

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzJournal: whatever the journal holds (torn records, foreign bytes, long lines), Open
// reads it without failing, every count is positive, and the log works after it: a new
// attempt counts one more than before, and Clear forgets it.
func FuzzJournal(f *testing.F) {
	a, b, c := record(opBegin, hashKey("a")), record(opEnd, hashKey("a")), record(opClear, hashKey("a"))
	f.Add(append(a[:], b[:]...))
	f.Add(append(a[:], "B 00ff"...))
	f.Add(bytes.Repeat([]byte("x"), 5000))
	f.Add(append(bytes.Repeat(a[:], 3), c[:]...))
	f.Fuzz(func(t *testing.T, journal []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "journal"), journal, 0o640); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer l.Close()
		for h, n := range l.counts {
			if n <= 0 {
				t.Fatalf("count %d for %x", n, h)
			}
		}
		before, err := l.Count("a")
		if err != nil {
			t.Fatal(err)
		}
		if n, err := l.Begin("a"); err != nil || n != before {
			t.Fatalf("Begin = %d, %v; want %d", n, err, before)
		}
		if n, _ := l.Count("a"); n != before+1 {
			t.Fatalf("after Begin: %d, want %d", n, before+1)
		}
		if err := l.Clear("a"); err != nil {
			t.Fatal(err)
		}
		if n, _ := l.Count("a"); n != 0 {
			t.Fatalf("after Clear: %d", n)
		}
	})
}
