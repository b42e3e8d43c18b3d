package mail_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/instroom/instroom/channels/mail"
)

// The folder's backlog is visible from outside while the source waits in IDLE: the age
// of the oldest mail queued or in flight, gone once everything is settled; and whether
// the folder could be read.
func TestIMAPBacklogAndReachability(t *testing.T) {
	d := startDovecot(t)
	s := source(d, nil)
	defer s.Close()
	if _, known := s.Reachable(); known {
		t.Fatal("reachability known before the first look")
	}
	if _, ok := s.Oldest(); ok {
		t.Fatal("a backlog before the first look")
	}
	before := time.Now().Add(-2 * time.Second)
	d.Append(t, "info", "INBOX", testMail(1, ""), testMail(2, ""))
	_, ack1, _ := read(t, s, 10*time.Second)
	if up, known := s.Reachable(); !up || !known {
		t.Errorf("Reachable = %v, %v after a read", up, known)
	}
	oldest, ok := s.Oldest()
	if !ok || oldest.Before(before.Truncate(time.Second)) || oldest.After(time.Now()) {
		t.Errorf("Oldest = %v, %v; want the INTERNALDATE of the mails (about now)", oldest, ok)
	}
	ack1(context.Background(), nil)
	_, ack2, _ := read(t, s, 10*time.Second)
	if _, ok := s.Oldest(); !ok {
		t.Error("the mail in flight is not in the backlog")
	}
	ack2(context.Background(), nil)
	if _, ok := s.Oldest(); ok {
		t.Error("a backlog after every mail was settled")
	}

	// Reading while the server is down: unreachable.
	bad := source(d, func(o *mail.IMAPOptions) { o.Addr = "127.0.0.1:1"; o.DialTimeout = time.Second })
	defer bad.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := bad.Read(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read from a closed port = %v", err)
	}
	if up, known := bad.Reachable(); up || !known {
		t.Errorf("Reachable = %v, %v for a closed port; want false, true", up, known)
	}
}
