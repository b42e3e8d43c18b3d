package mail_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/ingest"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func listFailed(t *testing.T, r ingest.Replayer) []ingest.FailedItem {
	t.Helper()
	var out []ingest.FailedItem
	if err := r.ListFailed(context.Background(), func(it ingest.FailedItem) error { out = append(out, it); return nil }); err != nil {
		t.Fatalf("ListFailed = %v", err)
	}
	return out
}

// TestMaildirReplay: failed mail goes back into new/ under its own name, keeping its time
// and losing its reason file, and is read again.
func TestMaildirReplay(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	m, err := mail.NewMaildir(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, root, "1.M1.host", "eerste", time.Hour)
	deliver(t, root, "2.M2.host", "tweede", time.Minute)
	src := ingest.NewDropSource(m, &ingest.DropSourceOptions{PollInterval: time.Millisecond, Once: true})
	for range 2 {
		_, ack, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ack(ctx, ingest.Permanentf(ingest.ReasonTooLarge, "too large")); err != nil {
			t.Fatal(err)
		}
	}
	// A mail client that opened the failed folder flagged one Seen.
	os.Rename(filepath.Join(root, ".Mislukt", "cur", "2.M2.host:2,"), filepath.Join(root, ".Mislukt", "cur", "2.M2.host:2,S"))
	items := listFailed(t, src)
	if len(items) != 2 || items[0].Origin != "1.M1.host" || items[1].Origin != "2.M2.host" || items[1].Ref != "2.M2.host:2,S" ||
		items[0].Reason != ingest.ReasonTooLarge || items[0].Size != 6 {
		t.Fatalf("ListFailed = %+v", items)
	}
	if d, err := ingest.Digest(ctx, items[1].Open); err != nil || d != sum([]byte("tweede")) {
		t.Errorf("digest = %s, %v", d, err)
	}
	before, _ := os.Stat(filepath.Join(root, ".Mislukt", "cur", "1.M1.host:2,"))
	// A mail of that name in new/ is never replaced.
	deliver(t, root, "2.M2.host", "nieuw", 0)
	if _, err := src.Replay(ctx, "2.M2.host:2,S"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Replay over a waiting mail = %v, want fs.ErrExist", err)
	}
	os.Remove(filepath.Join(root, "new", "2.M2.host"))
	for _, it := range items {
		ref, err := src.Replay(ctx, it.Ref)
		if err != nil || ref != it.Origin {
			t.Fatalf("Replay(%s) = %q, %v; want %s", it.Ref, ref, err, it.Origin)
		}
	}
	if got := names(filepath.Join(root, "new")); !slices.Equal(got, []string{"1.M1.host", "2.M2.host"}) {
		t.Errorf("new/ = %v", got)
	}
	if left := names(filepath.Join(root, ".Mislukt", "instroom-reasons")); len(left) != 0 {
		t.Errorf("reason files left: %v", left)
	}
	if after, _ := os.Stat(filepath.Join(root, "new", "1.M1.host")); !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("time changed: %v, was %v", after.ModTime(), before.ModTime())
	}
	if _, err := src.Replay(ctx, "1.M1.host:2,"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Replay = %v, want fs.ErrNotExist", err)
	}
	it, _, err := src.Read(ctx)
	if err != nil || it.Ref != "1.M1.host" {
		t.Fatalf("Read after replay = %v, %v", it, err)
	}
}

// failInto reads n mails from a watched folder and fails each with reason.
func failInto(t *testing.T, s *mail.IMAPSource, n int, reason string) []ingest.DeadLetterEvent {
	t.Helper()
	var out []ingest.DeadLetterEvent
	for range n {
		item, ack, body := read(t, s, 10*time.Second)
		out = append(out, ingest.DeadLetterEvent{Ref: item.Ref, Reason: reason, SHA256: sum(body), Size: item.Size, ReceivedAt: item.ReceivedAt})
		if err := ack(context.Background(), ingest.Permanentf(reason, "failed")); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestIMAPReplay on Dovecot: the failed folder is shared by two watched folders; each
// folder's source lists its own failed mail (by the folder keyword) and, as shared, mail
// whose folder is not recorded. Replay takes the keywords off and moves the mail back to
// its folder, where it is read again with the same bytes and INTERNALDATE; a dead letter
// finds its mail by digest, or by size and receipt time.
func TestIMAPReplay(t *testing.T) {
	d := startDovecot(t)
	ctx := context.Background()
	watched := []string{"INBOX", "Doorgestuurd"}
	src := func(folder string, o func(*mail.IMAPOptions)) *mail.IMAPSource {
		s := source(d, func(io *mail.IMAPOptions) {
			io.Folder, io.Watched, io.PollInterval = folder, watched, 100*time.Millisecond
			if o != nil {
				o(io)
			}
		})
		t.Cleanup(func() { s.Close() })
		return s
	}
	// An account whose failed folder does not exist yet has nothing failed.
	fresh := source(d, func(o *mail.IMAPOptions) {
		o.Account, o.Auth.Username, o.Auth.Password = "belastingen", "belastingen", "geheim2"
	})
	defer fresh.Close()
	if items := listFailed(t, fresh); len(items) != 0 {
		t.Errorf("ListFailed without a failed folder = %v", items)
	}
	d.Append(t, "info", "INBOX", testMail(1, "a"), testMail(2, "a longer one"))
	d.Append(t, "info", "Doorgestuurd", testMail(3, "c"))
	inboxDL := failInto(t, src("INBOX", nil), 2, ingest.ReasonInvalid)
	failInto(t, src("Doorgestuurd", nil), 1, ingest.ReasonPoison)
	d.Append(t, "info", "Mislukt", testMail(4, "by hand")) // no keywords: shared

	// The replay side never reads the watched folders.
	inbox, fwd := src("INBOX", nil), src("Doorgestuurd", func(o *mail.IMAPOptions) { o.Backlog = mail.BacklogUnseen })
	inItems, fwdItems := listFailed(t, inbox), listFailed(t, fwd)
	reasons := func(items []ingest.FailedItem) string {
		var r []string
		for _, it := range items {
			r = append(r, it.Reason+map[bool]string{true: "*"}[it.Shared])
		}
		return strings.Join(r, ",")
	}
	if got := reasons(inItems); got != "invalid,invalid,*" {
		t.Errorf("INBOX lists %s, want its two invalid mails and the shared one", got)
	}
	if got := reasons(fwdItems); got != "poison,*" {
		t.Errorf("Doorgestuurd lists %s, want its poison mail and the shared one", got)
	}
	for _, it := range inItems {
		if !strings.HasPrefix(it.Ref, "imap:info/Mislukt/") || it.Origin != "" || it.ReceivedAt.IsZero() || it.Size <= 0 {
			t.Errorf("failed item %+v", it)
		}
	}

	// A dead letter finds its mail by digest; one without (never read) by size and time.
	digest := func(ctx context.Context, it ingest.FailedItem) (string, error) { return ingest.Digest(ctx, it.Open) }
	m0, ok, err := ingest.MatchDeadLetter(ctx, inboxDL[0], inItems, digest)
	if err != nil || !ok {
		t.Fatalf("dead letter by digest: %v, %v", ok, err)
	}
	unread := inboxDL[1]
	unread.SHA256 = ""
	m1, ok, err := ingest.MatchDeadLetter(ctx, unread, inItems, digest)
	if err != nil || !ok || m1.Ref == m0.Ref {
		t.Fatalf("dead letter by size and time: %+v %v, %v", m1, ok, err)
	}
	if d0, _ := digest(ctx, m0); d0 != inboxDL[0].SHA256 {
		t.Errorf("dead letter by digest found another mail")
	}
	if d1, _ := digest(ctx, m1); d1 != inboxDL[1].SHA256 {
		t.Errorf("dead letter by size and time found another mail")
	}

	// Mark one Seen, as a person looking at the failed folder would.
	c := d.Client(t, "info")
	defer c.Close()
	if _, err := c.Select("Mislukt", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	c.Store(goimap.UIDSetNum(uidOf(t, fwdItems[0].Ref)), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: []goimap.Flag{goimap.FlagSeen}}, nil).Close()

	for _, rp := range []struct {
		s  *mail.IMAPSource
		it ingest.FailedItem
	}{{inbox, m0}, {inbox, m1}, {fwd, fwdItems[0]}, {fwd, fwdItems[1]}} {
		ref, err := rp.s.Replay(ctx, rp.it.Ref)
		if err != nil {
			t.Fatalf("Replay(%s) = %v", rp.it.Ref, err)
		}
		if !strings.HasPrefix(ref, "imap:info/") || strings.Contains(ref, "Mislukt") {
			t.Errorf("Replay(%s) = %q, want the new reference in the watched folder", rp.it.Ref, ref)
		}
	}
	if _, err := inbox.Replay(ctx, m0.Ref); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Replay = %v, want fs.ErrNotExist", err)
	}
	if n := d.Count(t, "info", "Mislukt"); n != 0 {
		t.Errorf("Mislukt holds %d, want 0", n)
	}
	if n, m := d.Count(t, "info", "INBOX"), d.Count(t, "info", "Doorgestuurd"); n != 2 || m != 2 {
		t.Errorf("INBOX %d, Doorgestuurd %d; want 2 and 2", n, m)
	}
	// Back without keywords, with the same bytes and date, and read again (unseen
	// backlog: \Seen was taken off).
	for _, f := range []string{"INBOX", "Doorgestuurd"} {
		if _, err := c.Select(f, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		msgs, err := c.Fetch(goimap.SeqSetNum(1, 2), &goimap.FetchOptions{Flags: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			for _, fl := range m.Flags {
				if strings.HasPrefix(string(fl), "$Instroom") || fl == goimap.FlagSeen {
					t.Errorf("%s: replayed mail keeps flag %s", f, fl)
				}
			}
		}
	}
	worker := src("Doorgestuurd", func(o *mail.IMAPOptions) { o.Backlog = mail.BacklogUnseen })
	seen := map[string]bool{}
	for range 2 {
		_, ack, body := read(t, worker, 10*time.Second)
		seen[sum(body)] = true
		ack(ctx, nil)
	}
	if !seen[sum(testMail(3, "c"))] || !seen[sum(testMail(4, "by hand"))] {
		t.Errorf("Doorgestuurd did not yield the replayed mails")
	}
	again := src("INBOX", nil)
	item, _, body := read(t, again, 10*time.Second)
	if sum(body) != inboxDL[0].SHA256 && sum(body) != inboxDL[1].SHA256 || !item.ReceivedAt.Equal(inboxDL[0].ReceivedAt) && !item.ReceivedAt.Equal(inboxDL[1].ReceivedAt) {
		t.Errorf("the replayed INBOX mail changed: %s at %v", sum(body), item.ReceivedAt)
	}
}

func uidOf(t *testing.T, ref string) goimap.UID {
	t.Helper()
	i := strings.LastIndexByte(ref, '/')
	var u uint32
	for _, r := range ref[i+1:] {
		u = u*10 + uint32(r-'0')
	}
	return goimap.UID(u)
}
