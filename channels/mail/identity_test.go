package mail_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/ingest"
)

func bytesItem(b []byte) *ingest.Item {
	return &ingest.Item{
		Ref: "test", Size: int64(len(b)), ReceivedAt: received,
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
	}
}

func klantcontactID(t *testing.T, raw string) string {
	t.Helper()
	in, err := mail.NewParser(nil).Parse(context.Background(), bytesItem([]byte(raw)))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	return ingest.KlantcontactID(in.Channel, in.Identity)
}

const base = "From: A <a@example.nl>\r\nTo: info@gemeente.example\r\nSubject: Vraag\r\nDate: Fri, 20 Nov 2026 09:00:00 +0100\r\nMessage-ID: <same@example.nl>\r\n\r\nTekst\r\n"

func TestSameMailInTwoMailboxesIsOneKlantcontact(t *testing.T) {
	// The copy delivered to another mailbox gets its own trace headers.
	copy2 := "Delivered-To: belastingen@gemeente.example\r\nReceived: from mx2 by imap2; Fri, 20 Nov 2026 09:00:05 +0100\r\n" + base
	if a, b := klantcontactID(t, base), klantcontactID(t, copy2); a != b {
		t.Errorf("klantcontact ids of one mail in two mailboxes = %s and %s, want equal", a, b)
	}
}

func TestDifferentMailsSharingMessageIDAreTwo(t *testing.T) {
	other := strings.Replace(base, "Subject: Vraag", "Subject: Andere vraag", 1)
	if a, b := klantcontactID(t, base), klantcontactID(t, other); a == b {
		t.Errorf("two different mails with one Message-ID share klantcontact id %s", a)
	}
}

func TestWithoutMessageIDIdentityIsTheRawHash(t *testing.T) {
	noID := strings.Replace(base, "Message-ID: <same@example.nl>\r\n", "", 1)
	a := klantcontactID(t, noID)
	if b := klantcontactID(t, noID); a != b {
		t.Errorf("same raw mail gives ids %s and %s", a, b)
	}
	if c := klantcontactID(t, noID+"x"); c == a {
		t.Errorf("different raw mails without Message-ID share id %s", a)
	}
}

func TestNotAMailIsPermanentlyUnparseable(t *testing.T) {
	files, _ := filepath.Glob("testdata/notmail/*")
	if len(files) < 4 {
		t.Fatalf("want the notmail fixtures, got %d", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = mail.NewParser(nil).Parse(context.Background(), bytesItem(b))
		if !ingest.IsPermanent(err) || ingest.ReasonOf(err) != ingest.ReasonUnparseable {
			t.Errorf("Parse(%s) = %v, want permanent %q", filepath.Base(f), err, ingest.ReasonUnparseable)
		}
	}
}

func TestTooLargeIsPermanent(t *testing.T) {
	big := base + strings.Repeat("x", 4096)
	p := mail.NewParser(&mail.Options{MaxBytes: 1024})
	_, err := p.Parse(context.Background(), bytesItem([]byte(big)))
	if ingest.ReasonOf(err) != ingest.ReasonTooLarge {
		t.Errorf("Parse(oversized, known size) = %v, want %s", err, ingest.ReasonTooLarge)
	}
	// A source that does not know the size: the limit holds while reading.
	it := bytesItem([]byte(big))
	it.Size = -1
	_, err = p.Parse(context.Background(), it)
	if ingest.ReasonOf(err) != ingest.ReasonTooLarge {
		t.Errorf("Parse(oversized, unknown size) = %v, want %s", err, ingest.ReasonTooLarge)
	}
}

func TestErrorsCarryNoContent(t *testing.T) {
	secret := "Geheim-Onderwerp-1234"
	raw := "\x00\x01 " + secret
	_, err := mail.NewParser(nil).Parse(context.Background(), bytesItem([]byte(raw)))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("Parse error = %v; want an error without message content", err)
	}
}

func TestSignals(t *testing.T) {
	tests := []struct {
		name, headers string
		want          string
	}{
		{"auto-submitted", "Auto-Submitted: auto-replied\r\n", "auto-reply"},
		{"auto-submitted no", "Auto-Submitted: no\r\n", ""},
		{"bulk", "Precedence: bulk\r\n", "bulk"},
		{"list", "List-Id: <nieuws.example.nl>\r\n", "bulk"},
		{"mailer-daemon", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := mail.NewParser(nil).Parse(context.Background(), bytesItem([]byte(tc.headers+base)))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(in.Signals, ",")
			if got != tc.want {
				t.Errorf("Signals = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNormaliseMessageID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<abc@example.nl>", "abc@example.nl"},
		{"  <abc@example.nl> (comment)", "abc@example.nl"},
		{"abc@example.nl", "abc@example.nl"},
		{"<a b@c>", ""},
		{"", ""},
		{"<first@x> <second@y>", "first@x"},
	}
	for _, tc := range tests {
		if got := mail.NormaliseMessageID(tc.in); got != tc.want {
			t.Errorf("NormaliseMessageID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFutureDateFallsBackToReceipt(t *testing.T) {
	raw := strings.Replace(base, "Date: Fri, 20 Nov 2026 09:00:00 +0100", "Date: Mon, 01 Jan 2099 00:00:00 +0000", 1)
	in, err := mail.NewParser(nil).Parse(context.Background(), bytesItem([]byte(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if !in.SentAt.IsZero() {
		t.Errorf("SentAt = %v, want zero for a date far after receipt", in.SentAt)
	}
	if !in.ReceivedAt.Equal(received) {
		t.Errorf("ReceivedAt = %v, want %v", in.ReceivedAt, received)
	}
}
