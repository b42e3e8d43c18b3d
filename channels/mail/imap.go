// The IMAP source reads mail from IMAP folders (Exchange Online, Dovecot, ...): one
// connection per watched folder, waiting in IDLE (polling where the server has no IDLE),
// bodies streamed into a bounded spool, and settled items moved with UID MOVE (COPY,
// STORE \Deleted and UID EXPUNGE where MOVE is missing) or only flagged.
//
// The source never hands out a mail twice while it is in flight, reconnects with the
// pipeline's backoff after a dropped connection or server restart, forgets its queue when
// the folder's UIDVALIDITY changes, and checks RFC822.SIZE before fetching, so an
// oversized mail goes to the failed folder unfetched.

package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/instroom/instroom/ingest"
)

// Connection security.
const (
	SecurityTLS      = "tls"      // implicit TLS (port 993)
	SecurityStartTLS = "starttls" // STARTTLS on the plain port
	SecurityPlain    = "plain"    // no TLS; only for loopback or when explicitly allowed
)

// Ack modes.
const (
	AckMove = "move" // move handled mail to the processed folder
	AckFlag = "flag" // only flag it (\Seen and ProcessedKeyword) and leave it in place
)

// Backlog policies: which mail in the folder is taken.
const (
	BacklogAll    = "all"    // every message
	BacklogUnseen = "unseen" // only messages without \Seen
	BacklogSince  = "since"  // only messages received on or after Since
)

// ProcessedKeyword flags handled mail in AckFlag mode; such mail is not taken again.
const ProcessedKeyword = "$InstroomVerwerkt"

// IMAPOptions configure one watched folder.
type IMAPOptions struct {
	// Account names the mailbox account in item references (no secrets).
	Account  string
	Addr     string // host:port
	Security string
	// TLS is used for SecurityTLS and SecurityStartTLS (RootCAs for a custom CA,
	// ServerName). Nil: system roots and the host of Addr.
	TLS  *tls.Config
	Auth IMAPAuth
	// Folder is the watched folder (default INBOX).
	Folder string
	// Watched are all watched folders of the account, which share its failed folder (nil:
	// Folder alone). Replay uses it to tell whose failed mail is whose (imapreplay.go).
	Watched         []string
	ProcessedFolder string // default "Verwerkt"
	FailedFolder    string // default "Mislukt"
	AckMode         string // default AckMove
	Backlog         string // default BacklogAll
	Since           time.Time
	// MaxBytes is the largest mail fetched; larger mail goes to the failed folder unfetched.
	MaxBytes int64
	// PollInterval is the time between searches when the server has no IDLE or while
	// items are in flight (default 30s without IDLE, 1s while busy).
	PollInterval time.Duration
	// IdleTimeout ends an IDLE wait that saw nothing, as a safety net (default 5m).
	IdleTimeout time.Duration
	// CheckInterval, when set, also checks the folder this often while in IDLE. Some
	// servers batch IDLE notifications (Dovecot delays them by about half a second); a
	// short check interval on a local server gets new mail registered sooner. Leave it
	// unset for hosted servers such as Exchange Online.
	CheckInterval time.Duration
	// AuthRetry is the least time between login attempts after the server refused the
	// credentials, so bad credentials never hammer (or lock) the account (default 5m).
	AuthRetry time.Duration
	// SpoolDir holds bodies larger than 1 MiB while they are handled (default os.TempDir()).
	SpoolDir string
	// DialTimeout bounds connecting and logging in (default 30s).
	DialTimeout time.Duration
	Logger      *slog.Logger
}

// metaBatch is the most messages whose size is fetched in one FETCH.
const metaBatch = 500

// Source reads one IMAP folder. It is safe for concurrent Read calls.
type IMAPSource struct {
	opts IMAPOptions
	log  *slog.Logger

	pmu     sync.Mutex // guards pending
	pending []*settleReq

	mu          sync.Mutex // guards the connection and the fields below
	c           *imapclient.Client
	caps        imap.CapSet
	uidValidity uint32
	queue       []imapEntry
	inflight    map[imap.UID]bool
	authErr     error
	authErrAt   time.Time

	newMail chan struct{} // signalled by EXISTS during IDLE
	settled chan struct{} // signalled when an item is settled
	closed  chan struct{}

	replay replayConn // instroom replay's own connection, on the failed folder

	backlog imapBacklog // for metrics and /readyz (imapbacklog.go)
}

type imapEntry struct {
	uid  imap.UID
	size int64
	date time.Time
}

// New returns a source for one folder. It does no I/O.
func NewIMAP(opts IMAPOptions) *IMAPSource {
	if opts.Folder == "" {
		opts.Folder = "INBOX"
	}
	if opts.ProcessedFolder == "" {
		opts.ProcessedFolder = "Verwerkt"
	}
	if opts.FailedFolder == "" {
		opts.FailedFolder = "Mislukt"
	}
	if opts.AckMode == "" {
		opts.AckMode = AckMove
	}
	if opts.Backlog == "" {
		opts.Backlog = BacklogAll
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 5 * time.Minute
	}
	if opts.AuthRetry <= 0 {
		opts.AuthRetry = 5 * time.Minute
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 30 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &IMAPSource{
		opts: opts, log: log.With("account", opts.Account, "folder", opts.Folder),
		inflight: map[imap.UID]bool{}, newMail: make(chan struct{}, 1), settled: make(chan struct{}, 1), closed: make(chan struct{}),
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Read implements ingest.Source.
func (s *IMAPSource) Read(ctx context.Context) (*ingest.Item, ingest.AckFunc, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		s.mu.Lock()
		if err := s.connect(ctx); err != nil {
			s.mu.Unlock()
			if ctx.Err() == nil {
				s.noteFailure()
			}
			return nil, nil, err
		}
		if len(s.queue) == 0 {
			err := s.search(ctx)
			if ctx.Err() == nil {
				s.noteSearch(err)
			}
			if err != nil {
				s.drop()
				s.mu.Unlock()
				return nil, nil, err
			}
		}
		for len(s.queue) > 0 {
			e := s.queue[0]
			s.queue = s.queue[1:]
			item, sp, err := s.fetch(ctx, e)
			if errors.Is(err, errVanished) {
				continue // expunged by someone else meanwhile
			}
			if err != nil {
				s.queue = append([]imapEntry{e}, s.queue...)
				s.drop()
				s.mu.Unlock()
				return nil, nil, err
			}
			s.inflight[e.uid] = true
			ack := s.ackFunc(e.uid, s.uidValidity, sp)
			s.mu.Unlock()
			return item, ack, nil
		}
		if err := s.await(ctx); err != nil {
			return nil, nil, err
		}
	}
}

// await waits for news while the queue is empty: in IDLE, or polling when mail is in
// flight or the server has no IDLE. It is called with s.mu held and releases it.
func (s *IMAPSource) await(ctx context.Context) error {
	if busy := len(s.inflight) > 0; busy || !s.caps.Has(imap.CapIdle) {
		s.mu.Unlock()
		wait := s.opts.PollInterval
		if wait <= 0 {
			wait = 30 * time.Second
			if busy {
				wait = time.Second
			}
		}
		if c := s.opts.CheckInterval; c > 0 && c < wait {
			wait = c
		}
		return s.pause(ctx, wait)
	}
	err := s.idle(ctx)
	if err != nil {
		s.drop()
	}
	s.mu.Unlock()
	return err
}

func (s *IMAPSource) pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return net.ErrClosed
	case <-s.settled:
	case <-s.newMail:
	case <-t.C:
	}
	return nil
}

// Close implements ingest.Source.
func (s *IMAPSource) Close() error {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.closeReplay()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil {
		_ = s.c.Logout().Wait()
		s.drop()
	}
	return nil
}
