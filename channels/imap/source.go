// Package imap reads mail from IMAP folders (Exchange Online, Dovecot, ...) as an
// ingest.Source: one connection per watched folder, waiting in IDLE (polling where the
// server has no IDLE), bodies streamed into a bounded spool, and settled items moved with
// UID MOVE (COPY, STORE \Deleted and UID EXPUNGE where MOVE is missing) or only flagged.
//
// The source never hands out a mail twice while it is in flight, reconnects with the
// pipeline's backoff after a dropped connection or server restart, forgets its queue when
// the folder's UIDVALIDITY changes, and checks RFC822.SIZE before fetching, so an
// oversized mail goes to the failed folder unfetched.
package imap

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

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

// Options configure one watched folder.
type Options struct {
	// Account names the mailbox account in item references (no secrets).
	Account  string
	Addr     string // host:port
	Security string
	// TLS is used for SecurityTLS and SecurityStartTLS (RootCAs for a custom CA,
	// ServerName). Nil: system roots and the host of Addr.
	TLS  *tls.Config
	Auth Auth
	// Folder is the watched folder (default INBOX).
	Folder          string
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

// memSpoolMax is the largest body kept in memory; larger bodies go to a temporary file.
const memSpoolMax = 1 << 20

// metaBatch is the most messages whose size is fetched in one FETCH.
const metaBatch = 500

// Source reads one IMAP folder. It is safe for concurrent Read calls.
type Source struct {
	opts Options
	log  *slog.Logger

	pmu     sync.Mutex // guards pending
	pending []*settleReq

	mu          sync.Mutex // guards the connection and the fields below
	c           *imapclient.Client
	caps        imap.CapSet
	uidValidity uint32
	queue       []entry
	inflight    map[imap.UID]bool
	authErr     error
	authErrAt   time.Time

	newMail chan struct{} // signalled by EXISTS during IDLE
	settled chan struct{} // signalled when an item is settled
	closed  chan struct{}
}

type entry struct {
	uid  imap.UID
	size int64
	date time.Time
}

// New returns a source for one folder. It does no I/O.
func New(opts Options) *Source {
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
	return &Source{
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
func (s *Source) Read(ctx context.Context) (*ingest.Item, ingest.AckFunc, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		s.mu.Lock()
		if err := s.connect(ctx); err != nil {
			s.mu.Unlock()
			return nil, nil, err
		}
		if len(s.queue) == 0 {
			if err := s.search(ctx); err != nil {
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
				s.queue = append([]entry{e}, s.queue...)
				s.drop()
				s.mu.Unlock()
				return nil, nil, err
			}
			s.inflight[e.uid] = true
			ack := s.ackFunc(e.uid, s.uidValidity, sp)
			s.mu.Unlock()
			return item, ack, nil
		}
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
			if err := s.pause(ctx, wait); err != nil {
				return nil, nil, err
			}
			continue
		}
		err := s.idle(ctx)
		if err != nil {
			s.drop()
		}
		s.mu.Unlock()
		if err != nil {
			return nil, nil, err
		}
	}
}

func (s *Source) pause(ctx context.Context, d time.Duration) error {
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

// idle waits in IDLE until new mail arrives, the timeout passes, or ctx is done. The
// caller holds s.mu.
func (s *Source) idle(ctx context.Context) error {
	select {
	case <-s.newMail: // mail arrived since the last search
		return nil
	default:
	}
	cmd, err := s.c.Idle()
	if err != nil {
		return fmt.Errorf("imap: idle: %w", err)
	}
	t := time.NewTimer(s.opts.IdleTimeout)
	defer t.Stop()
	var check <-chan time.Time
	if s.opts.CheckInterval > 0 {
		tc := time.NewTimer(s.opts.CheckInterval)
		defer tc.Stop()
		check = tc.C
	}
	var cerr error
	select {
	case <-ctx.Done():
		cerr = ctx.Err()
	case <-s.closed:
		cerr = net.ErrClosed
	case <-s.c.Closed():
		cerr = errors.New("imap: connection closed by the server")
	case <-s.newMail:
	case <-t.C:
	case <-check:
	}
	if err := cmd.Close(); err != nil && cerr == nil {
		cerr = fmt.Errorf("imap: ending idle: %w", err)
	}
	if err := cmd.Wait(); err != nil && cerr == nil {
		cerr = fmt.Errorf("imap: idle: %w", err)
	}
	return cerr
}

// connect makes sure there is a logged-in connection with the folder selected. The
// caller holds s.mu.
func (s *Source) connect(ctx context.Context) error {
	if s.c != nil {
		select {
		case <-s.c.Closed():
			s.drop()
		default:
			return nil
		}
	}
	if s.authErr != nil && time.Since(s.authErrAt) < s.opts.AuthRetry {
		return s.authErr
	}
	dialer := &net.Dialer{Timeout: s.opts.DialTimeout}
	opts := &imapclient.Options{
		TLSConfig: s.tlsConfig(),
		Dialer:    dialer,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					signal(s.newMail)
				}
			},
		},
	}
	var c *imapclient.Client
	var err error
	switch s.opts.Security {
	case SecurityTLS:
		c, err = imapclient.DialTLS(s.opts.Addr, opts)
	case SecurityStartTLS:
		c, err = imapclient.DialStartTLS(s.opts.Addr, opts)
	case SecurityPlain:
		c, err = imapclient.DialInsecure(s.opts.Addr, opts)
	default:
		return fmt.Errorf("imap: security %q is not one of tls, starttls, plain", s.opts.Security)
	}
	if err != nil {
		return fmt.Errorf("imap: connecting: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return fmt.Errorf("imap: greeting: %w", err)
	}
	if err := s.login(ctx, c); err != nil {
		c.Close()
		if errors.Is(err, ErrAuth) {
			s.authErr, s.authErrAt = err, time.Now()
			s.log.Error("imap login refused; next attempt after the auth retry interval", "err", err, "retry_in", s.opts.AuthRetry.String())
		}
		return err
	}
	s.authErr = nil
	s.caps = c.Caps()
	// Failed mail is moved in every ack mode; processed mail only in move mode.
	folders := []string{s.opts.FailedFolder}
	if s.opts.AckMode == AckMove {
		folders = append(folders, s.opts.ProcessedFolder)
	}
	for _, f := range folders {
		if err := c.Create(f, nil).Wait(); err != nil && !isCode(err, imap.ResponseCodeAlreadyExists) && !strings.Contains(strings.ToLower(err.Error()), "exists") {
			c.Close()
			return fmt.Errorf("imap: creating folder: %w", err)
		}
	}
	sel, err := c.Select(s.opts.Folder, nil).Wait()
	if err != nil {
		c.Close()
		return fmt.Errorf("imap: selecting folder: %w", err)
	}
	if s.uidValidity != 0 && sel.UIDValidity != s.uidValidity {
		s.log.Warn("UIDVALIDITY changed; forgetting queued and in-flight uids", "old", s.uidValidity, "new", sel.UIDValidity)
		s.queue = nil
		s.inflight = map[imap.UID]bool{}
	}
	s.uidValidity = sel.UIDValidity
	s.c = c
	s.log.Info("imap connected", "uidvalidity", sel.UIDValidity, "messages", sel.NumMessages)
	return nil
}

func (s *Source) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.opts.TLS != nil {
		cfg = s.opts.TLS.Clone()
	}
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(s.opts.Addr); err == nil {
			cfg.ServerName = host
		}
	}
	return cfg
}

func (s *Source) login(ctx context.Context, c *imapclient.Client) error {
	a := s.opts.Auth
	var err error
	switch a.Mechanism {
	case AuthLogin:
		err = c.Login(a.Username, a.Password).Wait()
	case AuthPlain, "":
		err = c.Authenticate(sasl.NewPlainClient("", a.Username, a.Password))
	case AuthXOAUTH2:
		if a.TokenSource == nil {
			return errors.New("imap: xoauth2 needs an oauth2 token source")
		}
		tok, terr := a.TokenSource.Token()
		if terr != nil {
			return fmt.Errorf("imap: getting oauth2 token: %w", terr)
		}
		err = c.Authenticate(&xoauth2{user: a.Username, token: tok.AccessToken})
	default:
		return fmt.Errorf("imap: auth mechanism %q is not one of plain, login, xoauth2", a.Mechanism)
	}
	if err != nil {
		if errors.Is(err, ErrAuth) {
			return fmt.Errorf("imap: account %s: %w", s.opts.Account, err)
		}
		var ierr *imap.Error
		if errors.As(err, &ierr) && (ierr.Type == imap.StatusResponseTypeNo || ierr.Code == imap.ResponseCodeAuthenticationFailed) {
			return fmt.Errorf("%w for account %s (%s)", ErrAuth, s.opts.Account, ierr.Code)
		}
		return fmt.Errorf("imap: logging in: %w", err)
	}
	return nil
}

func isCode(err error, code imap.ResponseCode) bool {
	var ierr *imap.Error
	return errors.As(err, &ierr) && ierr.Code == code
}

// drop closes the connection; the next operation reconnects. The caller holds s.mu.
func (s *Source) drop() {
	if s.c != nil {
		s.c.Close()
		s.c = nil
	}
}

// search fills the queue with the uids to take, with their sizes. The caller holds s.mu.
func (s *Source) search(ctx context.Context) error {
	crit := &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}
	switch s.opts.Backlog {
	case BacklogUnseen:
		crit.NotFlag = append(crit.NotFlag, imap.FlagSeen)
	case BacklogSince:
		crit.Since = s.opts.Since
	}
	if s.opts.AckMode == AckFlag {
		crit.NotFlag = append(crit.NotFlag, ProcessedKeyword)
	}
	stop := context.AfterFunc(ctx, func() { s.c.Close() })
	defer stop()
	data, err := s.c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return fmt.Errorf("imap: searching: %w", err)
	}
	var uids []imap.UID
	for _, u := range data.AllUIDs() {
		if !s.inflight[u] {
			uids = append(uids, u)
		}
	}
	slices.Sort(uids)
	for len(uids) > 0 {
		n := min(len(uids), metaBatch)
		batch := uids[:n]
		uids = uids[n:]
		cmd := s.c.Fetch(imap.UIDSetNum(batch...), &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true})
		for {
			msg := cmd.Next()
			if msg == nil {
				break
			}
			buf, err := msg.Collect()
			if err != nil {
				cmd.Close()
				return fmt.Errorf("imap: fetching sizes: %w", err)
			}
			s.queue = append(s.queue, entry{uid: buf.UID, size: buf.RFC822Size, date: buf.InternalDate})
		}
		if err := cmd.Close(); err != nil {
			return fmt.Errorf("imap: fetching sizes: %w", err)
		}
	}
	slices.SortFunc(s.queue, func(a, b entry) int { return int(a.uid) - int(b.uid) })
	return nil
}

var errVanished = errors.New("imap: message vanished")

// fetch streams one body into a spool. An oversized mail is not fetched. The caller holds
// s.mu.
func (s *Source) fetch(ctx context.Context, e entry) (*ingest.Item, *spool, error) {
	ref := fmt.Sprintf("imap:%s/%s/%d/%d", s.opts.Account, s.opts.Folder, s.uidValidity, e.uid)
	item := &ingest.Item{Ref: ref, Size: e.size, ReceivedAt: e.date.UTC()}
	if s.opts.MaxBytes > 0 && e.size > s.opts.MaxBytes {
		item.Open = func(context.Context) (io.ReadCloser, error) {
			return nil, ingest.Permanentf(ingest.ReasonTooLarge, "mail of %d bytes was not fetched", e.size)
		}
		return item, nil, nil
	}
	stop := context.AfterFunc(ctx, func() { s.c.Close() })
	defer stop()
	section := &imap.FetchItemBodySection{Peek: true}
	cmd := s.c.Fetch(imap.UIDSetNum(e.uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
	defer cmd.Close()
	msg := cmd.Next()
	if msg == nil {
		if err := cmd.Close(); err != nil {
			return nil, nil, fmt.Errorf("imap: fetching body: %w", err)
		}
		return nil, nil, errVanished
	}
	var sp *spool
	for {
		it := msg.Next()
		if it == nil {
			break
		}
		body, ok := it.(imapclient.FetchItemDataBodySection)
		if !ok || body.Literal == nil {
			continue
		}
		var err error
		if sp, err = newSpool(body.Literal, e.size, s.opts.SpoolDir); err != nil {
			return nil, nil, fmt.Errorf("imap: reading body: %w", err)
		}
	}
	if err := cmd.Close(); err != nil {
		sp.remove()
		return nil, nil, fmt.Errorf("imap: fetching body: %w", err)
	}
	if sp == nil {
		return nil, nil, errVanished
	}
	item.Size = sp.size
	item.Open = sp.open
	return item, sp, nil
}

// settleReq is one ack waiting to be carried out on the server.
type settleReq struct {
	uid      imap.UID
	validity uint32
	failure  error // nil: processed; permanent error: failed
	done     chan error
}

func (s *Source) ackFunc(uid imap.UID, validity uint32, sp *spool) ingest.AckFunc {
	return func(ctx context.Context, err error) error {
		sp.remove()
		if err != nil && !ingest.IsPermanent(err) {
			s.mu.Lock()
			delete(s.inflight, uid)
			s.mu.Unlock()
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
func (s *Source) settleBatch(ctx context.Context, batch []*settleReq) {
	defer func() {
		for _, r := range batch {
			delete(s.inflight, r.uid)
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
func (s *Source) settle(ctx context.Context, batch []*settleReq) error {
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
		// Keep the reason on the mail itself; not every server allows keywords.
		kw := imap.Flag("$Instroom-" + reason)
		_ = s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{kw}}, nil).Close()
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

// Close implements ingest.Source.
func (s *Source) Close() error {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil {
		_ = s.c.Logout().Wait()
		s.drop()
	}
	return nil
}

// spool holds one fetched body: in memory when small, in a temporary file otherwise.
type spool struct {
	mem  []byte
	file string
	size int64
}

func newSpool(r io.Reader, hint int64, dir string) (*spool, error) {
	if hint >= 0 && hint <= memSpoolMax {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		return &spool{mem: b, size: int64(len(b))}, nil
	}
	f, err := os.CreateTemp(dir, "instroom-imap-*")
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	return &spool{file: f.Name(), size: n}, nil
}

func (sp *spool) open(context.Context) (io.ReadCloser, error) {
	if sp.file == "" {
		return io.NopCloser(bytes.NewReader(sp.mem)), nil
	}
	return os.Open(sp.file)
}

func (sp *spool) remove() {
	if sp != nil && sp.file != "" {
		os.Remove(sp.file)
	}
}
