package mail_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/ingest"
)

// manyParts is a mail with n attachment parts.
func manyParts(n int) string {
	var sb strings.Builder
	sb.WriteString("From: A <a@example.nl>\r\nSubject: Veel bijlagen\r\nMessage-ID: <veel@example.nl>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nZie bijlagen.\r\n")
	for i := range n {
		fmt.Fprintf(&sb, "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"d%d.bin\"\r\n\r\nx%d\r\n", i, i)
	}
	sb.WriteString("--b--\r\n")
	return sb.String()
}

// TestPartLimitRegistersWithNote: a mail with more parts than the parser reads is still
// registered, with what was read and a note; the original keeps the rest.
func TestPartLimitRegistersWithNote(t *testing.T) {
	p := mail.NewParser(&mail.Options{MaxParts: 20})
	in, err := p.Parse(context.Background(), bytesItem([]byte(manyParts(100))))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	defer in.Cleanup()
	if len(in.Attachments) == 0 || len(in.Attachments) > 20 || in.Text != "Zie bijlagen." {
		t.Errorf("attachments = %d, text %q; want at most 20 and the text", len(in.Attachments), in.Text)
	}
	if !hasNote(in, "meer onderdelen") {
		t.Errorf("notes = %q, want the limits note", in.Notes)
	}
}

// TestParseTimeBound: once the time per mail is spent, parsing stops with what it has
// and a note, instead of holding the worker.
func TestParseTimeBound(t *testing.T) {
	p := mail.NewParser(&mail.Options{Timeout: time.Nanosecond})
	in, err := p.Parse(context.Background(), bytesItem([]byte(manyParts(50))))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	defer in.Cleanup()
	if len(in.Attachments) == 50 || !hasNote(in, "meer onderdelen") {
		t.Errorf("attachments = %d, notes %q; want the walk stopped with the limits note", len(in.Attachments), in.Notes)
	}
	if in.Original.Size != int64(len(manyParts(50))) {
		t.Errorf("original size = %d, want the whole mail", in.Original.Size)
	}
}

// TestCleanNoteFreeMail: ordinary Dutch mail declared UTF-8 gets no repair note.
func TestCleanNoteFreeMail(t *testing.T) {
	raw := "From: Jan <jan@example.nl>\r\nSubject: =?utf-8?q?Vraag_over_=C3=A9=C3=A9n_aanslag?=\r\nMessage-ID: <c@example.nl>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGeachte heer, één vraag over de WOZ-beschikking en de ë.\r\n"
	in, err := mail.NewParser(nil).Parse(context.Background(), bytesItem([]byte(raw)))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	defer in.Cleanup()
	if len(in.Notes) != 0 || in.Subject != "Vraag over één aanslag" || !strings.Contains(in.Text, "één vraag") {
		t.Errorf("subject %q, text %q, notes %q; want decoded and no notes", in.Subject, in.Text, in.Notes)
	}
}

// TestLinkKeys: a mail records its Message-ID and links to what it replies to.
func TestLinkKeys(t *testing.T) {
	raw := "From: A <a@example.nl>\r\nSubject: Re: x\r\nMessage-ID: <r@example.nl>\r\nIn-Reply-To: <o@example.nl>\r\nReferences: <a@x> <o@example.nl>\r\n\r\nJa\r\n"
	in, err := mail.NewParser(nil).Parse(context.Background(), bytesItem([]byte(raw)))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	defer in.Cleanup()
	want := []string{ingest.ContactKey("email", "o@example.nl"), ingest.ContactKey("email", "a@x")}
	if in.LinkKey != ingest.ContactKey("email", "r@example.nl") || strings.Join(in.Links, ",") != strings.Join(want, ",") {
		t.Errorf("LinkKey %q, Links %q; want %q and %q", in.LinkKey, in.Links, ingest.ContactKey("email", "r@example.nl"), want)
	}
}

func hasNote(in *ingest.Intake, s string) bool {
	for _, n := range in.Notes {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}
