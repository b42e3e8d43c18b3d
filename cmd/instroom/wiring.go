package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/instroom/instroom/channels/imap"
	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/config"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/storage/blob"
	"github.com/instroom/instroom/storage/bus"
	"github.com/instroom/instroom/storage/dropzone"
)

// startupCheck runs a check of a downstream. A misconfiguration stops the start with a
// clear error; an unreachable server is only logged, since the pipeline waits and retries
// until it is back (an outage must not turn into a crash loop).
func startupCheck(ctx context.Context, log *slog.Logger, what string, check func(context.Context) error, misconfigured func(error) bool) error {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := check(cctx)
	switch {
	case err == nil:
		return nil
	case misconfigured(err):
		return fmt.Errorf("%s: %w", what, err)
	default:
		log.Warn(what+" is not reachable at start; items wait until it is", "err", err)
		return nil
	}
}

func loadCA(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("CA file holds no PEM certificate")
	}
	return pool, nil
}

func newBlobStore(ctx context.Context, c *config.Config, log *slog.Logger) (ingest.BlobStore, error) {
	switch c.Storage.Blobs.Type {
	case "dir":
		return blob.NewDir(c.Storage.Blobs.Path)
	case "s3":
		sc := c.Storage.Blobs.S3
		pool, err := loadCA(sc.CAFile)
		if err != nil {
			return nil, fmt.Errorf("storage.blobs.s3: %w", err)
		}
		s, err := blob.NewS3(blob.S3Options{
			Endpoint: sc.Endpoint, Region: sc.Region, Bucket: sc.Bucket, Prefix: c.Storage.Blobs.Prefix,
			PathStyle: sc.PathStyle, Insecure: sc.Insecure, RootCAs: pool,
			AccessKey: sc.AccessKey.Value(), SecretKey: sc.SecretKey.Value(),
			SSE: sc.SSE, KMSKeyID: sc.KMSKeyID, PartSize: uint64(sc.PartSize),
		})
		if err != nil {
			return nil, err
		}
		if err := startupCheck(ctx, log, "s3 bucket", s.Check, blob.Misconfigured); err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("storage.blobs.type %q is not supported", c.Storage.Blobs.Type)
}

func newPublisher(ctx context.Context, c *config.Config, log *slog.Logger) (ingest.Publisher, func(), error) {
	switch c.Storage.Events.Type {
	case "log":
		l, err := bus.Open(c.Storage.Events.Path)
		if err != nil {
			return nil, nil, err
		}
		return busPublisher{l}, func() { l.Close() }, nil
	case "kafka":
		kc := c.Storage.Events.Kafka
		var tlsCfg *tls.Config
		if kc.TLS {
			pool, err := loadCA(kc.CAFile)
			if err != nil {
				return nil, nil, fmt.Errorf("storage.events.kafka: %w", err)
			}
			tlsCfg = &tls.Config{RootCAs: pool, ServerName: kc.ServerName, MinVersion: tls.VersionTLS12}
		}
		k, err := bus.NewKafka(bus.KafkaOptions{
			Brokers: kc.Brokers, TLS: tlsCfg, SASLMechanism: kc.SASL, Username: kc.Username, Password: kc.Password.Value(),
			Compression: kc.Compression, BatchTimeout: kc.BatchTimeout, ClientID: kc.ClientID,
		})
		if err != nil {
			return nil, nil, err
		}
		t := c.Storage.Events.Topics
		check := func(ctx context.Context) error { return k.Check(ctx, t.Klantcontacten, t.Internetaken, t.DeadLetter) }
		if err := startupCheck(ctx, log, "kafka", check, bus.Misconfigured); err != nil {
			k.Close()
			return nil, nil, err
		}
		return busPublisher{k}, func() { k.Close() }, nil
	}
	return nil, nil, fmt.Errorf("storage.events.type %q is not supported", c.Storage.Events.Type)
}

// newStreams builds one stream per drop zone and one per watched IMAP folder.
func newStreams(ctx context.Context, c *config.Config, log *slog.Logger, once bool) ([]ingest.Stream, error) {
	parser := mail.NewParser(&mail.Options{MaxBytes: c.Limits.MaxMessageBytes})
	var streams []ingest.Stream
	for _, sc := range c.Sources {
		base := ingest.Stream{Name: sc.Name, Channel: sc.Channel, Parser: parser, Workers: sc.Workers, DrainTimeout: c.Shutdown.DrainTimeout}
		switch sc.Type {
		case "maildir", "dir":
			zone, err := newDropZone(sc)
			if err != nil {
				return nil, err
			}
			base.Source = ingest.NewDropSource(zone, &ingest.DropSourceOptions{PollInterval: sc.PollInterval, Once: once})
			streams = append(streams, base)
		case "imap":
			if once {
				return nil, fmt.Errorf("source %s: -once is for Maildir and drop-folder sources", sc.Name)
			}
			opts, err := imapOptions(ctx, sc, c, log)
			if err != nil {
				return nil, fmt.Errorf("source %s: %w", sc.Name, err)
			}
			for _, folder := range sc.IMAP.Folders {
				o := opts
				o.Folder = folder
				st := base
				st.Name = sc.Name + "." + folderName(folder)
				st.Source = imap.New(o)
				streams = append(streams, st)
			}
		default:
			return nil, fmt.Errorf("source %s: type %q is not supported", sc.Name, sc.Type)
		}
	}
	return streams, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func folderName(f string) string { return unsafeName.ReplaceAllString(f, "_") }

func imapOptions(ctx context.Context, sc config.Source, c *config.Config, log *slog.Logger) (imap.Options, error) {
	im := sc.IMAP
	pool, err := loadCA(im.CAFile)
	if err != nil {
		return imap.Options{}, err
	}
	o := imap.Options{
		Account: sc.Name, Addr: im.Address, Security: im.Security,
		TLS:             &tls.Config{RootCAs: pool, ServerName: im.ServerName, MinVersion: tls.VersionTLS12},
		Auth:            imap.Auth{Mechanism: im.Auth, Username: im.Username, Password: im.Password.Value()},
		ProcessedFolder: im.ProcessedFolder, FailedFolder: im.FailedFolder, AckMode: im.Ack, Backlog: im.Backlog,
		MaxBytes: c.Limits.MaxMessageBytes, PollInterval: sc.PollInterval, IdleTimeout: im.IdleTimeout, CheckInterval: im.CheckInterval, AuthRetry: im.AuthRetry,
		Logger: log.With("source", sc.Name),
	}
	if im.Backlog == "since" {
		o.Since, _ = time.Parse("2006-01-02", im.Since) // validated by config
	}
	if im.Auth == "xoauth2" {
		oc := im.OAuth2
		cc := clientcredentials.Config{ClientID: oc.ClientID, ClientSecret: oc.ClientSecret.Value(), TokenURL: oc.TokenURL, Scopes: oc.Scopes}
		o.Auth.TokenSource = oauth2.ReuseTokenSourceWithExpiry(nil, cc.TokenSource(ctx), oc.RefreshBefore)
	}
	return o, nil
}

func newDropZone(sc config.Source) (ingest.DropZone, error) {
	switch sc.Type {
	case "maildir":
		return dropzone.NewMaildir(sc.Path, &dropzone.MaildirOptions{ProcessedFolder: sc.ProcessedFolder, FailedFolder: sc.FailedFolder})
	case "dir":
		return dropzone.NewDir(sc.Path, &dropzone.DirOptions{Patterns: sc.Patterns, MinAge: sc.MinAge})
	}
	return nil, fmt.Errorf("source %s: type %q is not supported", sc.Name, sc.Type)
}
