package mail_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

func testMail(i int, extra string) []byte {
	return []byte(fmt.Sprintf("From: Burger %d <b%d@example.nl>\r\nTo: info@gemeente.example\r\nSubject: Vraag %d\r\nMessage-ID: <imap-%d@example.nl>\r\nDate: Fri, 20 Nov 2026 09:00:00 +0100\r\n\r\nTekst %d %s\r\n", i, i, i, i, i, extra))
}

func startDovecot(t *testing.T) *ingesttest.Dovecot {
	return ingesttest.StartDovecot(t, ingesttest.DovecotOptions{Users: map[string]string{"info": "geheim", "belastingen": "geheim2"}})
}

func source(d *ingesttest.Dovecot, mod func(*mail.IMAPOptions)) *mail.IMAPSource {
	o := mail.IMAPOptions{Account: "info", Addr: d.Addr, Security: mail.SecurityPlain, Auth: mail.IMAPAuth{Mechanism: mail.AuthPlain, Username: "info", Password: "geheim"}}
	if mod != nil {
		mod(&o)
	}
	return mail.NewIMAP(o)
}

func read(t *testing.T, s *mail.IMAPSource, timeout time.Duration) (*ingest.Item, ingest.AckFunc, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	item, ack, err := s.Read(ctx)
	if err != nil {
		t.Fatalf("Read = %v", err)
	}
	rc, err := item.Open(ctx)
	if err != nil {
		return item, ack, nil
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return item, ack, b
}

func TestReadMovesToProcessed(t *testing.T) {
	d := startDovecot(t)
	var mails [][]byte
	for i := range 6 {
		mails = append(mails, testMail(i, ""))
	}
	d.Append(t, "info", "INBOX", mails...)
	s := source(d, nil)
	defer s.Close()
	// Three concurrent readers never get the same mail.
	seen := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				item, ack, body := read(t, s, 10*time.Second)
				mu.Lock()
				if seen[item.Ref] {
					t.Errorf("item %s read twice", item.Ref)
				}
				seen[item.Ref] = true
				mu.Unlock()
				if !strings.Contains(string(body), "Subject: Vraag") || int64(len(body)) != item.Size {
					t.Errorf("body of %s: %d bytes, size %d", item.Ref, len(body), item.Size)
				}
				if err := ack(context.Background(), nil); err != nil {
					t.Errorf("ack = %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if n := d.Count(t, "info", "INBOX"); n != 0 {
		t.Errorf("INBOX holds %d, want 0", n)
	}
	if n := d.Count(t, "info", "Verwerkt"); n != 6 {
		t.Errorf("Verwerkt holds %d, want 6", n)
	}
}

func TestOversizedGoesToFailedUnfetched(t *testing.T) {
	d := startDovecot(t)
	d.Append(t, "info", "INBOX", testMail(1, strings.Repeat("x", 5000)))
	s := source(d, func(o *mail.IMAPOptions) { o.MaxBytes = 1000 })
	defer s.Close()
	item, ack, body := read(t, s, 10*time.Second)
	if body != nil || item.Size <= 1000 {
		t.Fatalf("oversized mail: body %d bytes, size %d; want it unfetched with its size", len(body), item.Size)
	}
	if _, err := item.Open(context.Background()); ingest.ReasonOf(err) != ingest.ReasonTooLarge {
		t.Errorf("Open(oversized) = %v, want too_large", err)
	}
	if err := ack(context.Background(), ingest.Permanentf(ingest.ReasonTooLarge, "too large")); err != nil {
		t.Fatal(err)
	}
	if n := d.Count(t, "info", "Mislukt"); n != 1 {
		t.Errorf("Mislukt holds %d, want 1", n)
	}
	// The reason travels as a keyword on the mail.
	c := d.Client(t, "info")
	defer c.Close()
	c.Select("Mislukt", nil).Wait()
	msgs, err := c.Fetch(goimap.SeqSetNum(1), &goimap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(msgs) != 1 || !hasFlag(msgs[0].Flags, "$Instroom-too_large") {
		t.Errorf("failed mail flags = %v (%v), want $Instroom-too_large", msgs, err)
	}
}

func hasFlag(flags []goimap.Flag, f string) bool {
	for _, x := range flags {
		if strings.EqualFold(string(x), f) {
			return true
		}
	}
	return false
}

func TestIdleWakesOnNewMail(t *testing.T) {
	d := startDovecot(t)
	s := source(d, nil)
	defer s.Close()
	got := make(chan string, 1)
	go func() {
		item, ack, _ := read(t, s, 20*time.Second)
		ack(context.Background(), nil)
		got <- item.Ref
	}()
	time.Sleep(300 * time.Millisecond) // the source is now waiting in IDLE
	d.Append(t, "info", "INBOX", testMail(1, ""))
	select {
	case ref := <-got:
		if !strings.HasPrefix(ref, "imap:info/INBOX/") {
			t.Errorf("ref = %s", ref)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("new mail did not end IDLE")
	}
}

func TestTemporaryNackLeavesMail(t *testing.T) {
	d := startDovecot(t)
	d.Append(t, "info", "INBOX", testMail(1, ""))
	s := source(d, nil)
	defer s.Close()
	item, ack, _ := read(t, s, 10*time.Second)
	ack(context.Background(), errors.New("s3 down"))
	again, ack2, _ := read(t, s, 10*time.Second)
	if again.Ref != item.Ref {
		t.Errorf("after nack read %s, want %s again", again.Ref, item.Ref)
	}
	ack2(context.Background(), nil)
	if n := d.Count(t, "info", "INBOX"); n != 0 {
		t.Errorf("INBOX holds %d, want 0", n)
	}
}

func TestFlagModeAndUnseenBacklog(t *testing.T) {
	d := startDovecot(t)
	d.Append(t, "info", "INBOX", testMail(1, ""), testMail(2, ""), testMail(3, ""), testMail(4, ""))
	// A colleague already read mail 1.
	c := d.Client(t, "info")
	c.Select("INBOX", nil).Wait()
	c.Store(goimap.SeqSetNum(1), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: []goimap.Flag{goimap.FlagSeen}}, nil).Close()
	c.Close()
	s := source(d, func(o *mail.IMAPOptions) { o.AckMode = mail.AckFlag; o.Backlog = mail.BacklogUnseen })
	defer s.Close()
	var refs []string
	for range 3 {
		item, ack, body := read(t, s, 10*time.Second)
		if strings.Contains(string(body), "Vraag 1") {
			t.Errorf("read the seen mail 1")
		}
		refs = append(refs, item.Ref)
		var err error
		if strings.Contains(string(body), "Vraag 4") { // a bad mail still goes to the failed folder
			err = ingest.Permanentf(ingest.ReasonUnparseable, "bad")
		}
		if aerr := ack(context.Background(), err); aerr != nil {
			t.Errorf("ack in flag mode = %v", aerr)
		}
	}
	if refs[0] == refs[1] || refs[1] == refs[2] || refs[0] == refs[2] {
		t.Errorf("read a mail twice: %v", refs)
	}
	if n := d.Count(t, "info", "Mislukt"); n != 1 {
		t.Errorf("flag mode: Mislukt holds %d, want the failed mail", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if item, _, err := s.Read(ctx); err == nil {
		t.Errorf("Read after all unseen were flagged = %s, want nothing", item.Ref)
	}
	if n := d.Count(t, "info", "INBOX"); n != 3 {
		t.Errorf("flag mode: INBOX holds %d, want the 3 good mails still there", n)
	}
}

func TestBadCredentialsHoldOff(t *testing.T) {
	d := startDovecot(t)
	s := source(d, func(o *mail.IMAPOptions) { o.Auth.Password = "fout"; o.AuthRetry = time.Hour })
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 5 {
		_, _, err := s.Read(ctx)
		if !errors.Is(err, mail.ErrAuth) {
			t.Fatalf("Read %d with a bad password = %v, want ErrAuth", i, err)
		}
		if strings.Contains(err.Error(), "fout") {
			t.Errorf("error shows the password: %v", err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if n := strings.Count(d.ServerLog(), "auth failed") + strings.Count(d.ServerLog(), "Disconnected (auth failed"); n > 1 {
		t.Errorf("server saw %d failed logins; want one, then a hold-off", n)
	}
}

func TestReconnectAfterServerRestart(t *testing.T) {
	d := startDovecot(t)
	d.Append(t, "info", "INBOX", testMail(1, ""), testMail(2, ""))
	s := source(d, nil)
	defer s.Close()
	_, ack, _ := read(t, s, 10*time.Second)
	d.Stop()
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	if err := ack(context.Background(), nil); err != nil {
		t.Fatalf("ack after restart = %v, want it to reconnect", err)
	}
	// Reading goes on; a failed read is retried by the pipeline, as here.
	var item *ingest.Item
	var ack2 ingest.AckFunc
	for i := 0; i < 20 && item == nil; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		item, ack2, _ = s.Read(ctx)
		cancel()
	}
	if item == nil {
		t.Fatal("no read after the restart")
	}
	ack2(context.Background(), nil)
	if n := d.Count(t, "info", "Verwerkt"); n != 2 {
		t.Errorf("Verwerkt holds %d, want 2", n)
	}
}

func TestUIDValidityChange(t *testing.T) {
	d := startDovecot(t)
	d.Append(t, "info", "Werkbak", testMail(1, ""))
	s := source(d, func(o *mail.IMAPOptions) { o.Folder = "Werkbak" })
	defer s.Close()
	_, ack, _ := read(t, s, 10*time.Second)
	// The folder is recreated: new UIDVALIDITY, UIDs start again.
	c := d.Client(t, "info")
	if err := c.Delete("Werkbak").Wait(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	time.Sleep(1100 * time.Millisecond) // Dovecot's UIDVALIDITY is a timestamp
	d.Append(t, "info", "Werkbak", testMail(2, ""), testMail(3, ""))
	// Force the source to reconnect and see the new UIDVALIDITY.
	d.Stop()
	d.Start()
	if err := ack(context.Background(), nil); err == nil {
		t.Error("ack of a mail from the old UIDVALIDITY = nil, want an error (the mail is read again)")
	}
	var bodies []string
	for range 2 {
		_, a, b := read(t, s, 10*time.Second)
		bodies = append(bodies, string(b))
		a(context.Background(), nil)
	}
	if !strings.Contains(bodies[0]+bodies[1], "Vraag 2") || !strings.Contains(bodies[0]+bodies[1], "Vraag 3") {
		t.Errorf("after the UIDVALIDITY change read %q", bodies)
	}
}

func TestTLSAndStartTLS(t *testing.T) {
	ca := ingesttest.NewTestCA(t, t.TempDir())
	d := ingesttest.StartDovecot(t, ingesttest.DovecotOptions{Users: map[string]string{"info": "geheim"}, CA: ca})
	d.Append(t, "info", "INBOX", testMail(1, ""), testMail(2, ""))
	for _, tc := range []struct{ sec, addr string }{{mail.SecurityTLS, d.TLSAddr}, {mail.SecurityStartTLS, d.Addr}} {
		s := source(d, func(o *mail.IMAPOptions) {
			o.Security, o.Addr = tc.sec, tc.addr
			o.TLS = ingesttest.ClientTLS(ca)
			o.Auth.Mechanism = mail.AuthLogin
		})
		_, ack, body := read(t, s, 10*time.Second)
		if len(body) == 0 {
			t.Errorf("%s: empty body", tc.sec)
		}
		ack(context.Background(), nil)
		s.Close()
	}
	// Without the custom CA the server is not trusted.
	s := source(d, func(o *mail.IMAPOptions) { o.Security, o.Addr = mail.SecurityTLS, d.TLSAddr })
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := s.Read(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Read without the CA = %v, want a certificate error", err)
	}
}

// TestWithoutIdleAndMove runs against a Dovecot that advertises neither IDLE nor MOVE: the
// source polls, and acks use COPY, STORE \Deleted and UID EXPUNGE.
func TestWithoutIdleAndMove(t *testing.T) {
	d := ingesttest.StartDovecot(t, ingesttest.DovecotOptions{Users: map[string]string{"info": "geheim"}, Capabilities: "IMAP4rev1 LITERAL+ UIDPLUS"})
	c := d.Client(t, "info")
	if caps := c.Caps(); caps.Has(goimap.CapIdle) || caps.Has(goimap.CapMove) {
		t.Fatalf("the server still advertises IDLE or MOVE: %v", caps)
	}
	c.Close()
	d.Append(t, "info", "INBOX", testMail(1, ""))
	s := source(d, func(o *mail.IMAPOptions) { o.PollInterval = 200 * time.Millisecond })
	defer s.Close()
	_, ack, _ := read(t, s, 10*time.Second)
	if err := ack(context.Background(), nil); err != nil {
		t.Fatalf("ack without MOVE = %v", err)
	}
	// New mail is found by polling.
	go func() {
		time.Sleep(300 * time.Millisecond)
		d.Append(t, "info", "INBOX", testMail(2, ""))
	}()
	_, ack2, body := read(t, s, 10*time.Second)
	if !strings.Contains(string(body), "Vraag 2") {
		t.Errorf("polled read = %q", body)
	}
	ack2(context.Background(), nil)
	if in, done := d.Count(t, "info", "INBOX"), d.Count(t, "info", "Verwerkt"); in != 0 || done != 2 {
		t.Errorf("INBOX %d, Verwerkt %d; want 0 and 2", in, done)
	}
}

func TestBacklogSince(t *testing.T) {
	d := startDovecot(t)
	c := d.Client(t, "info")
	for i, when := range []time.Time{time.Date(2020, 1, 1, 9, 0, 0, 0, time.UTC), time.Now()} {
		m := testMail(i, "")
		cmd := c.Append("INBOX", int64(len(m)), &goimap.AppendOptions{Time: when})
		cmd.Write(m)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	s := source(d, func(o *mail.IMAPOptions) {
		o.Backlog = mail.BacklogSince
		o.Since = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	})
	defer s.Close()
	_, ack, body := read(t, s, 10*time.Second)
	if !strings.Contains(string(body), "Vraag 1") {
		t.Errorf("read %q, want the recent mail 1 only", body)
	}
	ack(context.Background(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if item, _, err := s.Read(ctx); err == nil {
		t.Errorf("read the old mail %s too", item.Ref)
	}
}

func TestLargeMailIsSpooledToDisk(t *testing.T) {
	d := startDovecot(t)
	big := testMail(1, strings.Repeat("regel met tekst\r\n", 150_000)) // ~2.5 MB
	d.Append(t, "info", "INBOX", big)
	spool := t.TempDir()
	s := source(d, func(o *mail.IMAPOptions) { o.SpoolDir = spool })
	defer s.Close()
	item, ack, body := read(t, s, 20*time.Second)
	if len(body) != len(big) || item.Size != int64(len(big)) {
		t.Fatalf("large mail: %d bytes read, size %d, want %d", len(body), item.Size, len(big))
	}
	if ents, _ := os.ReadDir(spool); len(ents) != 1 {
		t.Errorf("spool dir holds %d files while in flight, want the body in 1", len(ents))
	}
	ack(context.Background(), nil)
	if ents, _ := os.ReadDir(spool); len(ents) != 0 {
		t.Errorf("spool dir holds %d files after ack, want 0", len(ents))
	}
}
