package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// idle waits in IDLE until new mail arrives, the timeout passes, or ctx is done. The
// caller holds s.mu.
func (s *IMAPSource) idle(ctx context.Context) error {
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
func (s *IMAPSource) connect(ctx context.Context) error {
	if s.c != nil {
		select {
		case <-s.c.Closed():
			s.drop()
		default:
			return nil
		}
	}
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
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

// dial connects and logs in, unless the server refused the credentials less than
// AuthRetry ago. The caller holds s.mu.
func (s *IMAPSource) dial(ctx context.Context) (*imapclient.Client, error) {
	if s.authErr != nil && time.Since(s.authErrAt) < s.opts.AuthRetry {
		return nil, s.authErr
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
		return nil, fmt.Errorf("imap: security %q is not one of tls, starttls, plain", s.opts.Security)
	}
	if err != nil {
		return nil, fmt.Errorf("imap: connecting: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, fmt.Errorf("imap: greeting: %w", err)
	}
	if err := s.login(ctx, c); err != nil {
		c.Close()
		if errors.Is(err, ErrAuth) {
			s.authErr, s.authErrAt = err, time.Now()
			s.log.Error("imap login refused; next attempt after the auth retry interval", "err", err, "retry_in", s.opts.AuthRetry.String())
		}
		return nil, err
	}
	s.authErr = nil
	return c, nil
}

func (s *IMAPSource) tlsConfig() *tls.Config {
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

func (s *IMAPSource) login(ctx context.Context, c *imapclient.Client) error {
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
func (s *IMAPSource) drop() {
	if s.c != nil {
		s.c.Close()
		s.c = nil
	}
}
