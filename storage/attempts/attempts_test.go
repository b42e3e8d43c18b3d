package attempts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func open(t *testing.T, dir string) *Log {
	t.Helper()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func count(t *testing.T, l *Log, key string) int {
	t.Helper()
	n, err := l.Count(key)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBeginEndClear(t *testing.T) {
	d := open(t, t.TempDir())
	key := "mail.INBOX\x00acct/INBOX/1/7"
	for want := 0; want < 3; want++ {
		n, err := d.Begin(key)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("Begin = %d, want %d", n, want)
		}
		// The process "dies": no End. The next Begin sees one more.
	}
	if err := d.End(key, false); err != nil {
		t.Fatal(err)
	}
	if n := count(t, d, key); n != 2 {
		t.Fatalf("after End(false): %d, want 2", n)
	}
	d.Begin(key)
	if err := d.End(key, true); err != nil {
		t.Fatal(err)
	}
	if n := count(t, d, key); n != 3 {
		t.Fatalf("after End(true): %d, want 3", n)
	}
	if err := d.Clear(key); err != nil {
		t.Fatal(err)
	}
	if n := count(t, d, key); n != 0 {
		t.Fatalf("after Clear: %d", n)
	}
	if err := d.Clear(key); err != nil {
		t.Fatalf("second Clear: %v", err)
	}
	if n := count(t, d, "other"); n != 0 {
		t.Fatalf("a key never begun: %d", n)
	}
}

// TestSurvivesReopenAndHidesKey: the counts of a worker that died are there for the next,
// and the journal holds no item reference.
func TestSurvivesReopenAndHidesKey(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir)
	key := "brief\x00leverancier/GEHEIM-bsn-123456782.pdf"
	d.Begin(key)
	d.Begin(key)
	d.Begin("done")
	d.End("done", false)
	// No Close: the process died.
	d2 := open(t, dir)
	if n := count(t, d2, key); n != 2 {
		t.Fatalf("after reopen: %d, want 2", n)
	}
	if n := count(t, d2, "done"); n != 0 {
		t.Fatalf("an ended attempt after reopen: %d", n)
	}
	filepath.WalkDir(dir, func(p string, e os.DirEntry, _ error) error {
		if strings.Contains(p, "GEHEIM") {
			t.Errorf("item reference in a file name: %s", p)
		}
		if !e.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), "GEHEIM") {
				t.Errorf("item reference in %s", p)
			}
		}
		return nil
	})
}

// TestTornRecordSkipped: a record cut short by a crash of the machine is dropped, and the
// records around it count.
func TestTornRecordSkipped(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir)
	d.Begin("a")
	d.Close()
	f, err := os.OpenFile(filepath.Join(dir, "journal"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("B 00ff")
	f.Close()
	d2 := open(t, dir)
	d2.Begin("b")
	d3 := open(t, dir)
	if a, b := count(t, d3, "a"), count(t, d3, "b"); a != 1 || b != 1 {
		t.Fatalf("after a torn record: a=%d b=%d, want 1 and 1", a, b)
	}
}

// TestForget: instroom replay forgets an item while the worker runs, and while it does
// not.
func TestForget(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir)
	d.Begin("k")
	d.Begin("k")
	if err := Forget(dir, "k"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, d, "k"); n != 0 {
		t.Fatalf("running worker after Forget: %d", n)
	}
	d.Begin("j")
	d.Close()
	if err := Forget(dir, "j"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, open(t, dir), "j"); n != 0 {
		t.Fatalf("next worker after Forget: %d", n)
	}
	if err := Forget(t.TempDir()+"/new", "x"); err != nil {
		t.Fatalf("Forget without a journal: %v", err)
	}
}

// TestCompactionKeepsCountsAndForgets: the journal is rewritten as it grows, with the
// counts still open, while another process forgets keys: no count and no Forget is lost.
func TestCompactionKeepsCountsAndForgets(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir)
	const keys = 200
	for i := range keys {
		d.Begin(fmt.Sprint("open", i))
		d.Begin(fmt.Sprint("open", i))
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range keys {
			if i%2 == 0 {
				if err := Forget(dir, fmt.Sprint("open", i)); err != nil {
					t.Error(err)
				}
			}
		}
	})
	items := 3 * compactAt / (2 * recordLen) // three compactions' worth
	for i := range items {
		key := fmt.Sprint("item", i)
		d.Begin(key)
		d.End(key, false)
		d.Clear(key)
	}
	wg.Wait()
	fi, err := os.Stat(filepath.Join(dir, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 2*compactAt {
		t.Errorf("journal of %d bytes: not compacted", fi.Size())
	}
	for _, l := range []*Log{d, open(t, dir)} {
		for i := range keys {
			want := 2
			if i%2 == 0 {
				want = 0
			}
			if n := count(t, l, fmt.Sprint("open", i)); n != want {
				t.Fatalf("key %d: %d, want %d", i, n, want)
			}
		}
	}
}

// TestMigratesOldLayout: counts of the file-per-key layout of earlier versions are kept.
func TestMigratesOldLayout(t *testing.T) {
	dir := t.TempDir()
	h := hashKey("oud")
	name := fmt.Sprintf("%x", h[:])
	if err := os.MkdirAll(filepath.Join(dir, name[:2]), 0o750); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name[:2], name), []byte("2\n"), 0o640)
	d := open(t, dir)
	if n := count(t, d, "oud"); n != 2 {
		t.Fatalf("migrated count: %d, want 2", n)
	}
	if _, err := os.Stat(filepath.Join(dir, name[:2])); !os.IsNotExist(err) {
		t.Errorf("old layout left behind: %v", err)
	}
	if n := count(t, open(t, dir), "oud"); n != 2 {
		t.Fatalf("after the next open: %d, want 2", n)
	}
}
