package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// feeder delivers mails one by one at a steady rate, as an MTA would: over IMAP APPEND
// while Dovecot runs, straight into the Maildir (tmp/, then new/) while it is down.
type feeder struct {
	st    *stack
	users map[string]string // user -> password

	mu      sync.Mutex // held while delivering; Dovecot is only stopped with it held
	down    bool
	clients map[string]*imapclient.Client
	at      []time.Time // delivery time of mail i
	direct  int         // mails delivered into the Maildir
	err     error       // the first delivery error
}

func newFeeder(st *stack, users map[string]string) *feeder {
	return &feeder{st: st, users: users, clients: map[string]*imapclient.Client{}}
}

// run delivers mails 0..n-1, one every interval, until done or ctx ends.
func (f *feeder) run(ctx context.Context, n int, interval time.Duration) {
	start := time.Now()
	for i := range n {
		if !sleepUntil(ctx, start.Add(time.Duration(i)*interval)) {
			return
		}
		if err := f.deliver(i); err != nil {
			f.mu.Lock()
			if f.err == nil {
				f.err = fmt.Errorf("delivering mail %d: %w", i, err)
			}
			f.mu.Unlock()
			return
		}
	}
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// deliver puts mail i into its folder (folders[i%3]), the same mail appendMails makes.
func (f *feeder) deliver(i int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fo := folders[i%len(folders)]
	m := synthMail(i, 2<<10+i*37%(8<<10))
	var err error
	if f.down {
		err = f.toMaildir(fo.user, fo.folder, i, m)
		f.direct++
	} else {
		err = f.appendIMAP(fo.user, fo.folder, m)
	}
	if err == nil {
		f.at = append(f.at, time.Now())
	}
	return err
}

// appendIMAP appends over a kept connection, dialling again when the connection broke
// (Dovecot restarted), for up to ~5 s.
func (f *feeder) appendIMAP(user, folder string, m []byte) error {
	var err error
	for attempt := range 25 {
		if attempt > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		c := f.clients[user]
		if c == nil {
			if c, err = imapclient.DialInsecure(f.st.dovecot.Addr, nil); err != nil {
				continue
			}
			if err = c.Login(user, f.users[user]).Wait(); err != nil {
				c.Close()
				continue
			}
			f.clients[user] = c
		}
		cmd := c.Append(folder, int64(len(m)), nil)
		if _, err = cmd.Write(m); err == nil {
			if err = cmd.Close(); err == nil {
				if _, err = cmd.Wait(); err == nil {
					return nil
				}
			}
		}
		c.Close()
		delete(f.clients, user)
	}
	return err
}

// toMaildir delivers the Maildir way: write into tmp/, then rename into new/, owned by
// the mailbox's owner so Dovecot may move it later.
func (f *feeder) toMaildir(user, folder string, i int, m []byte) error {
	dir := maildir(f.st, user, folder)
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%d.M%dP%d.fault%d", time.Now().Unix(), time.Now().UnixNano()%1e6, os.Getpid(), i)
	tmp := filepath.Join(dir, "tmp", name)
	if err := os.WriteFile(tmp, m, 0o600); err != nil {
		return err
	}
	if s, ok := info.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		if err := os.Chown(tmp, int(s.Uid), int(s.Gid)); err != nil {
			return err
		}
	}
	return os.Rename(tmp, filepath.Join(dir, "new", name))
}

// maildir is a folder's Maildir (Maildir++: INBOX is the user's directory).
func maildir(st *stack, user, folder string) string {
	dir := filepath.Join(st.dovecot.Dir, "mail", user)
	if folder != "INBOX" {
		dir = filepath.Join(dir, "."+folder)
	}
	return dir
}

// setDown marks Dovecot as (about to be) stopped or running again. Taking it down waits
// for the delivery in progress and drops the IMAP connections.
func (f *feeder) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
	for u, c := range f.clients {
		c.Close()
		delete(f.clients, u)
	}
}

// delivered returns the delivery times so far, the number delivered into the Maildir, and
// the first error.
func (f *feeder) delivered() ([]time.Time, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.at...), f.direct, f.err
}

// settleSampler counts the mails in the processed folders on disk (so it works while
// Dovecot is down) every 100 ms and keeps when each one arrived.
type settleSampler struct {
	mu     sync.Mutex
	events []time.Time
	count  int
}

func (s *settleSampler) run(ctx context.Context, st *stack) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		n := 0
		for _, user := range []string{"info", "belastingen"} {
			// cur before new: a file moving from new/ to cur/ in between is missed for one
			// sample, never counted twice; the count only ever goes up.
			dir := maildir(st, user, "Verwerkt")
			n += countFiles(filepath.Join(dir, "cur")) + countFiles(filepath.Join(dir, "new"))
		}
		now := time.Now()
		s.mu.Lock()
		for ; s.count < n; s.count++ {
			s.events = append(s.events, now)
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *settleSampler) snapshot() (int, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count, append([]time.Time(nil), s.events...)
}
