package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/instroom/instroom/ingest"
)

// Descriptor describes the e-mail channel to the host: IMAP accounts, Maildirs beside
// the mail server, and drop folders (a directory or an S3 prefix) of .eml and .msg files.
var Descriptor = ingest.Channel{
	Name:        Channel,
	Defaults:    ingest.ChannelDefaults{Kanaal: "E-mail", AdresOmschrijving: "Afzender van ontvangen e-mail"},
	SourceTypes: []string{"imap", "maildir", "dir", "s3"},
	Setup:       setup,
}

type mailRuntime struct {
	env       ingest.Env
	settings  ChannelSettings
	parser    *Parser
	spoolOnce sync.Once
}

// prepareSpool creates the spool directory and, with clean, removes what a killed worker
// left in it. At start nothing is in flight, and one worker owns its data_dir; instroom
// replay, which may run beside the worker, does not clean.
func prepareSpool(dir string, clean bool) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("creating spool directory: %w", err)
	}
	if !clean {
		return nil
	}
	left, _ := filepath.Glob(filepath.Join(dir, "instroom-*"))
	for _, f := range left {
		os.Remove(f)
	}
	return nil
}

func setup(env ingest.Env, decode ingest.Decoder) (ingest.Runtime, error) {
	rt := &mailRuntime{env: env}
	if err := decode(&rt.settings); err != nil {
		return nil, err
	}
	rt.settings.defaults()
	rt.parser = NewParser(&Options{
		MaxBytes: env.MaxItemBytes, Timeout: rt.settings.ParseTimeout, MaxParts: rt.settings.MaxParts,
		SpoolDir: spoolDir(env),
	})
	return rt, nil
}

func spoolDir(env ingest.Env) string {
	if env.DataDir == "" {
		return ""
	}
	return filepath.Join(env.DataDir, "spool", "mail")
}

func (rt *mailRuntime) Parser() ingest.Parser  { return rt.parser }
func (rt *mailRuntime) Routes() []ingest.Route { return nil }

// Sources implements ingest.Runtime.
func (rt *mailRuntime) Sources(ctx context.Context, sc ingest.SourceConfig) ([]ingest.NamedSource, error) {
	var ss SourceSettings
	if err := sc.Settings(&ss); err != nil {
		return nil, err
	}
	if ss.IMAP != nil && sc.Type != "imap" {
		return nil, fmt.Errorf("%s.imap: only for type imap", sc.At)
	}
	if (ss.ProcessedFolder != "" || ss.FailedFolder != "") && sc.Type != "maildir" {
		return nil, fmt.Errorf("%s.processed_folder, failed_folder: only for type maildir (IMAP: imap.processed_folder)", sc.At)
	}
	if !rt.env.CheckOnly && rt.parser.opts.SpoolDir != "" {
		var err error
		rt.spoolOnce.Do(func() { err = prepareSpool(rt.parser.opts.SpoolDir, !rt.env.ReplayOnly) })
		if err != nil {
			return nil, err
		}
	}
	drop := func(zone ingest.DropZone) []ingest.NamedSource {
		return []ingest.NamedSource{{Source: ingest.NewDropSource(zone, &ingest.DropSourceOptions{PollInterval: sc.PollInterval, Once: rt.env.Once})}}
	}
	switch sc.Type {
	case "imap":
		return rt.imapSources(ctx, sc, ss.IMAP)
	case "maildir":
		if rt.env.CheckOnly {
			return nil, nil
		}
		zone, err := NewMaildir(sc.Path, &MaildirOptions{ProcessedFolder: ss.ProcessedFolder, FailedFolder: ss.FailedFolder})
		if err != nil {
			return nil, err
		}
		return drop(zone), nil
	case "dir", "s3":
		if rt.env.CheckOnly {
			return nil, nil
		}
		zone, err := sc.DropZone(ctx, "")
		if err != nil {
			return nil, err
		}
		return drop(zone), nil
	}
	return nil, fmt.Errorf("%s.type: %q is not a source type of the e-mail channel", sc.At, sc.Type)
}

func (rt *mailRuntime) imapSources(ctx context.Context, sc ingest.SourceConfig, im *IMAPSettings) ([]ingest.NamedSource, error) {
	if im == nil {
		return nil, fmt.Errorf("%s.imap: required for type imap", sc.At)
	}
	if rt.env.Once {
		return nil, fmt.Errorf("source %s: -once is for Maildir and drop-folder sources", sc.Name)
	}
	im.defaults()
	if err := im.validate(sc.At + ".imap"); err != nil {
		return nil, err
	}
	pool, err := loadCA(im.CAFile)
	if err != nil {
		return nil, fmt.Errorf("%s.imap.ca_file: %w", sc.At, err)
	}
	if rt.env.CheckOnly {
		return nil, nil
	}
	o := IMAPOptions{
		Account: sc.Name, Addr: im.Address, Security: im.Security,
		TLS:             &tls.Config{RootCAs: pool, ServerName: im.ServerName, MinVersion: tls.VersionTLS12},
		Auth:            IMAPAuth{Mechanism: im.Auth, Username: im.Username, Password: im.Password},
		ProcessedFolder: im.ProcessedFolder, FailedFolder: im.FailedFolder, AckMode: im.Ack, Backlog: im.Backlog,
		MaxBytes: rt.env.MaxItemBytes, PollInterval: sc.PollInterval, IdleTimeout: im.IdleTimeout, CheckInterval: im.CheckInterval, AuthRetry: im.AuthRetry,
		SpoolDir: rt.parser.opts.SpoolDir, Logger: rt.env.Logger.With("source", sc.Name),
	}
	if im.Backlog == BacklogSince {
		o.Since, _ = time.Parse("2006-01-02", im.Since) // validated
	}
	if im.Auth == AuthXOAUTH2 {
		o.Auth.TokenSource = im.OAuth2.tokenSource(ctx)
	}
	var out []ingest.NamedSource
	for _, folder := range im.Folders {
		fo := o
		fo.Folder, fo.Watched = folder, im.Folders
		out = append(out, ingest.NamedSource{Suffix: folderName(folder), Source: NewIMAP(fo)})
	}
	return out, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func folderName(f string) string { return unsafeName.ReplaceAllString(f, "_") }

func loadCA(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading CA file %s: %w", file, errors.Unwrap(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}

// tokenSource gets access tokens with the client-credentials flow, reusing each until it
// is within RefreshBefore of expiring. It remembers the last token's expiry (for the
// token-expiry metric, IMAPSource.TokenExpiry).
func (o *OAuth2Settings) tokenSource(ctx context.Context) oauth2.TokenSource {
	cc := clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL, Scopes: o.Scopes}
	return &expiryRecorder{ts: oauth2.ReuseTokenSourceWithExpiry(nil, cc.TokenSource(ctx), o.RefreshBefore)}
}
