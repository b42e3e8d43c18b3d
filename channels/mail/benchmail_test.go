package mail_test

import (
	"bytes"
	"context"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/ingest/ingesttest"
)

// TestBenchMailComesOutRight: the ordinary Dutch mail of the benchmarks (UTF-8,
// quoted-printable, accented letters and a euro sign) is decoded exactly as written,
// its attachment byte for byte, and it carries no note: nothing about it needed a repair,
// so the colleague is not told the tekenset was wrong.
func TestBenchMailComesOutRight(t *testing.T) {
	raw := ingesttest.BenchMail(7)
	in, err := mail.NewParser(nil).ParseBytes(raw, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Notes) != 0 {
		t.Errorf("notes on an ordinary mail: %q", in.Notes)
	}
	// The text as written: the quoted-printable body of the first part, decoded.
	start := bytes.Index(raw, []byte("quoted-printable\r\n\r\n")) + len("quoted-printable\r\n\r\n")
	end := bytes.Index(raw[start:], []byte("\r\n--=_grens_0001"))
	want, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw[start : start+end])))
	if err != nil {
		t.Fatal(err)
	}
	wantText := strings.TrimSpace(strings.ReplaceAll(string(want), "\r\n", "\n"))
	if got := strings.TrimSpace(in.Text); got != wantText {
		t.Errorf("text differs from what was written:\n got %.200q\nwant %.200q", got, wantText)
	}
	for _, s := range []string{"€ 45", "vóór ons huis", "'s avonds"} {
		if !strings.Contains(in.Text, s) {
			t.Errorf("text lacks %q", s)
		}
	}
	if len(in.Attachments) != 1 {
		t.Fatalf("%d attachments, want 1", len(in.Attachments))
	}
	rc, err := in.Attachments[0].Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ := io.ReadAll(rc)
	rc.Close()
	if len(pdf) != 10500 || !bytes.HasPrefix(pdf, []byte("%PDF-1.7\n")) {
		t.Errorf("attachment of %d bytes starting %.9q, want the 10500-byte PDF", len(pdf), pdf)
	}
}
