package mail

import (
	"context"
	"errors"
	"fmt"

	"github.com/emersion/go-imap/v2"
	"github.com/instroom/instroom/ingest"
)

// settleReq is one ack waiting to be carried out on the server.
type settleReq struct {
	uid      imap.UID
	validity uint32
	failure  error // nil: processed; permanent error: failed
	done     chan error
}

func (s *IMAPSource) ackFunc(uid imap.UID, validity uint32, sp *spool) ingest.AckFunc {
	return func(ctx context.Context, err error) error {
		sp.remove()
		if err != nil && !ingest.IsPermanent(err) {
			s.mu.Lock()
			delete(s.inflight, uid)
			s.mu.Unlock()
			s.noteSettled(uid)
			signal(s.settled)
			return nil // leave it; it is read again
		}
		req := &settleReq{uid: uid, validity: validity, failure: err, done: make(chan error, 1)}
		s.pmu.Lock()
		s.pending = append(s.pending, req)
		s.pmu.Unlock()
		// Group commit: whoever holds the connection next settles every pending ack, so
		// under load one UID MOVE carries many mails.
		s.mu.Lock()
		s.pmu.Lock()
		batch := s.pending
		s.pending = nil
		s.pmu.Unlock()
		if len(batch) > 0 {
			s.settleBatch(ctx, batch)
		}
		s.mu.Unlock()
		signal(s.settled)
		return <-req.done
	}
}

// settleBatch carries out acks, retrying once on a fresh connection. The caller holds s.mu.
func (s *IMAPSource) settleBatch(ctx context.Context, batch []*settleReq) {
	defer func() {
		for _, r := range batch {
			delete(s.inflight, r.uid)
			s.noteSettled(r.uid)
		}
	}()
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if err = s.connect(ctx); err != nil {
			continue
		}
		var live []*settleReq
		for _, r := range batch {
			if r.validity != s.uidValidity {
				r.done <- errors.New("imap: UIDVALIDITY changed; the mail is read again")
				continue
			}
			live = append(live, r)
		}
		batch = live
		if len(batch) == 0 {
			return
		}
		if err = s.settle(ctx, batch); err == nil {
			for _, r := range batch {
				r.done <- nil
			}
			return
		}
		s.drop()
	}
	for _, r := range batch {
		r.done <- err
	}
}

// settle moves or flags handled mail: processed mail in one command, failed mail per
// reason. The caller holds s.mu.
func (s *IMAPSource) settle(ctx context.Context, batch []*settleReq) error {
	stop := context.AfterFunc(ctx, func() { s.c.Close() })
	defer stop()
	var ok []imap.UID
	failed := map[string][]imap.UID{}
	for _, r := range batch {
		if r.failure == nil {
			ok = append(ok, r.uid)
		} else {
			reason := ingest.ReasonOf(r.failure)
			failed[reason] = append(failed[reason], r.uid)
		}
	}
	for reason, uids := range failed {
		set := imap.UIDSetNum(uids...)
		// Keep the reason and the watched folder on the mail itself, for replay; not every
		// server allows keywords (each is stored on its own, so one refused keeps the other).
		for _, kw := range []imap.Flag{imap.Flag(reasonKeyword + reason), folderKeyword(s.opts.Folder)} {
			_ = s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{kw}}, nil).Close()
		}
		if _, err := s.c.Move(set, s.opts.FailedFolder).Wait(); err != nil {
			return fmt.Errorf("imap: moving to failed folder: %w", err)
		}
	}
	if len(ok) == 0 {
		return nil
	}
	set := imap.UIDSetNum(ok...)
	if s.opts.AckMode == AckFlag {
		if err := s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen, ProcessedKeyword}}, nil).Close(); err != nil {
			return fmt.Errorf("imap: flagging: %w", err)
		}
		return nil
	}
	if _, err := s.c.Move(set, s.opts.ProcessedFolder).Wait(); err != nil {
		return fmt.Errorf("imap: moving to processed folder: %w", err)
	}
	return nil
}
