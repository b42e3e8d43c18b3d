package mail_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/ingest"
)

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

// deliver writes a mail as an MTA does: into tmp/, then renamed into new/.
func deliver(t *testing.T, root, name, content string, age time.Duration) {
	tmp := filepath.Join(root, "tmp", name)
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	mt := time.Now().Add(-age)
	os.Chtimes(tmp, mt, mt)
	if err := os.Rename(tmp, filepath.Join(root, "new", name)); err != nil {
		t.Fatal(err)
	}
}

// TestMaildirThroughDropSource runs the drop-zone contract on a Maildir: oldest first,
// an item in flight is not yielded again, ack(nil) moves to the processed folder, a
// permanent error to the failed folder with its reason, a temporary error leaves it.
func TestMaildirThroughDropSource(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	m, err := mail.NewMaildir(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, root, "b", "tweede", time.Minute)
	deliver(t, root, "a", "eerste", 2*time.Minute)
	deliver(t, root, "c", "derde", 30*time.Second)
	src := ingest.NewDropSource(m, &ingest.DropSourceOptions{PollInterval: 10 * time.Millisecond, Once: true})
	it1, ack1, err := src.Read(ctx)
	if err != nil || it1.Ref != "a" {
		t.Fatalf("Read = %v, %v; want a", it1, err)
	}
	rc, _ := it1.Open(ctx)
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "eerste" || it1.Size != 6 {
		t.Errorf("content = %q size %d, want eerste 6", b, it1.Size)
	}
	it2, ack2, _ := src.Read(ctx)
	it3, ack3, _ := src.Read(ctx)
	if it2.Ref != "b" || it3.Ref != "c" {
		t.Fatalf("order = %s, %s; want b, c", it2.Ref, it3.Ref)
	}
	if err := ack1(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := ack2(ctx, ingest.Permanentf(ingest.ReasonUnparseable, "not a mail")); err != nil {
		t.Fatal(err)
	}
	if err := ack3(ctx, errors.New("kafka down")); err != nil {
		t.Fatal(err)
	}
	if p := names(filepath.Join(root, ".Verwerkt", "cur")); len(p) != 1 || p[0] != "a:2,S" {
		t.Errorf("processed = %v, want [a:2,S]", p)
	}
	if f := names(filepath.Join(root, ".Mislukt", "cur")); len(f) != 1 {
		t.Errorf("failed = %v, want one", f)
	}
	var r struct{ Reason string }
	rb, _ := os.ReadFile(filepath.Join(root, ".Mislukt", "instroom-reasons", "b.json"))
	if err := json.Unmarshal(rb, &r); err != nil || r.Reason != "unparseable" {
		t.Errorf("reason of b = %+v (%v), want unparseable", r, err)
	}
	it, ack, err := src.Read(ctx)
	if err != nil || it.Ref != "c" {
		t.Fatalf("Read after nack = %v, %v; want c again", it, err)
	}
	ack(ctx, nil)
	if _, _, err := src.Read(ctx); !errors.Is(err, ingest.ErrEndOfInput) {
		t.Errorf("Read on empty Maildir = %v, want ErrEndOfInput", err)
	}
}

func TestMaildirIgnoresTmpAndFlagsSeen(t *testing.T) {
	root := t.TempDir()
	m, _ := mail.NewMaildir(root, &mail.MaildirOptions{ProcessedFolder: "Klaar"})
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
