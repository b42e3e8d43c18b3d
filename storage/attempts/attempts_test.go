package attempts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBeginEndClear(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
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
	if n, _ := d.Count(key); n != 2 {
		t.Fatalf("after End(false): %d, want 2", n)
	}
	d.Begin(key)
	if err := d.End(key, true); err != nil {
		t.Fatal(err)
	}
	if n, _ := d.Count(key); n != 3 {
		t.Fatalf("after End(true): %d, want 3", n)
	}
	if err := d.Clear(key); err != nil {
		t.Fatal(err)
	}
	if n, _ := d.Count(key); n != 0 {
		t.Fatalf("after Clear: %d", n)
	}
	if err := d.Clear(key); err != nil {
		t.Fatalf("second Clear: %v", err)
	}
}

func TestSurvivesReopenAndHidesKey(t *testing.T) {
	dir := t.TempDir()
	d, _ := Open(dir)
	key := "brief\x00leverancier/GEHEIM-bsn-123456782.pdf"
	d.Begin(key)
	d.Begin(key)
	d2, _ := Open(dir)
	if n, _ := d2.Count(key); n != 2 {
		t.Fatalf("after reopen: %d, want 2", n)
	}
	filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error {
		if strings.Contains(p, "GEHEIM") {
			t.Errorf("item reference in a file name: %s", p)
		}
		return nil
	})
}

func TestTornFileCountsAsNone(t *testing.T) {
	d, _ := Open(t.TempDir())
	key := "k"
	d.Begin(key)
	if err := os.WriteFile(d.path(key), []byte("x\x00"), 0o640); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Count(key); err != nil || n != 0 {
		t.Fatalf("torn file: %d, %v", n, err)
	}
}
