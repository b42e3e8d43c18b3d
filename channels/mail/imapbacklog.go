package mail

import (
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/instroom/instroom/ingest"
)

// imapBacklog is what the folder's operators see from outside: the arrival times of the
// mail queued or in flight, and whether the last look at the folder worked. It has its
// own lock, since the connection's lock is held through IDLE.
type imapBacklog struct {
	mu    sync.Mutex
	dates map[imap.UID]time.Time
	reach int // 0: not yet, 1: the last search worked, -1: it failed
}

var (
	_ ingest.Backlogger = (*IMAPSource)(nil)
	_ ingest.Prober     = (*IMAPSource)(nil)
)

// noteSearch records a search's outcome: on success the queue (just filled) plus what is
// in flight is the backlog. The caller holds s.mu.
func (s *IMAPSource) noteSearch(err error) {
	b := &s.backlog
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.reach = -1
		return
	}
	b.reach = 1
	dates := make(map[imap.UID]time.Time, len(s.queue)+len(s.inflight))
	for uid := range s.inflight {
		if d, ok := b.dates[uid]; ok {
			dates[uid] = d
		}
	}
	for _, e := range s.queue {
		dates[e.uid] = e.date
	}
	b.dates = dates
}

// noteFailure records that the folder could not be read (connecting or waiting failed).
func (s *IMAPSource) noteFailure() {
	s.backlog.mu.Lock()
	s.backlog.reach = -1
	s.backlog.mu.Unlock()
}

// noteSettled drops a mail from the backlog: handled, or left to be read again (then the
// next search adds it back).
func (s *IMAPSource) noteSettled(uid imap.UID) {
	s.backlog.mu.Lock()
	delete(s.backlog.dates, uid)
	s.backlog.mu.Unlock()
}

// Oldest implements ingest.Backlogger: the INTERNALDATE of the oldest mail queued or in
// flight, as of the last search.
func (s *IMAPSource) Oldest() (time.Time, bool) {
	s.backlog.mu.Lock()
	defer s.backlog.mu.Unlock()
	var oldest time.Time
	for _, d := range s.backlog.dates {
		if oldest.IsZero() || d.Before(oldest) {
			oldest = d
		}
	}
	return oldest, !oldest.IsZero()
}

// Reachable implements ingest.Prober: whether the last search of the folder worked.
func (s *IMAPSource) Reachable() (up, known bool) {
	s.backlog.mu.Lock()
	defer s.backlog.mu.Unlock()
	return s.backlog.reach == 1, s.backlog.reach != 0
}
