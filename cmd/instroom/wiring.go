package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

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
		return nil, fmt.Errorf("reading CA file %s: %w", file, errors.Unwrap(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}

// blobStore is a blob store that can read back what it stored (for the contact index).
type blobStore interface {
	ingest.BlobStore
	Get(ctx context.Context, key string) (io.ReadCloser, error)
}

func newBlobStore(ctx context.Context, c *config.Config, log *slog.Logger) (blobStore, error) {
	switch c.Storage.Blobs.Type {
	case "dir":
		return blob.NewDir(c.Storage.Blobs.Path)
	case "s3":
		opts, err := s3Options(c.Storage.Blobs.S3, "")
		if err != nil {
			return nil, fmt.Errorf("storage.blobs.s3: %w", err)
		}
		s, err := blob.NewS3(opts)
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

// newDropZone opens the drop zone of a dir or s3 source (or its sub-folder sub).
func newDropZone(ctx context.Context, c *config.Config, sc *config.Source, sub string) (ingest.DropZone, error) {
	switch sc.Type {
	case "dir":
		d, err := dropzone.NewDir(sc.Path, &dropzone.DirOptions{Patterns: sc.Patterns, MinAge: sc.MinAge})
		if err != nil || sub == "" {
			return d, err
		}
		return d.Sub(sub)
	case "s3":
		return newS3DropZone(ctx, c, sc, sub)
	}
	return nil, fmt.Errorf("source %s: type %q has no drop zone", sc.Name, sc.Type)
}

// s3Options is the connection of an S3 configuration block, with the given prefix.
func s3Options(sc *config.S3, prefix string) (blob.S3Options, error) {
	pool, err := loadCA(sc.CAFile)
	if err != nil {
		return blob.S3Options{}, err
	}
	return blob.S3Options{
		Endpoint: sc.Endpoint, Region: sc.Region, Bucket: sc.Bucket, Prefix: prefix,
		PathStyle: sc.PathStyle, Insecure: sc.Insecure, RootCAs: pool,
		AccessKey: sc.AccessKey.Value(), SecretKey: sc.SecretKey.Value(),
		SSE: sc.SSE, KMSKeyID: sc.KMSKeyID, PartSize: uint64(sc.PartSize),
	}, nil
}

// newS3DropZone opens an s3 source's drop zone: sources[].prefix in the source's bucket
// (sources[].s3, default storage.blobs.s3). Its bucket is checked at start like the blob
// store's.
func newS3DropZone(ctx context.Context, c *config.Config, sc *config.Source, sub string) (ingest.DropZone, error) {
	opts, err := s3Options(sc.S3, sc.Prefix)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", sc.Name, err)
	}
	z, err := dropzone.NewS3Zone(opts, &dropzone.S3ZoneOptions{Patterns: sc.Patterns, MinAge: sc.MinAge})
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", sc.Name, err)
	}
	if err := startupCheck(ctx, slog.New(slog.DiscardHandler), "s3 drop zone", z.Check, dropzone.Misconfigured); err != nil {
		return nil, fmt.Errorf("source %s: %w", sc.Name, err)
	}
	if sub == "" {
		return z, nil
	}
	return z.Sub(sub)
}

// checkCAFiles loads every CA file of the storage configuration, so a missing or broken
// one is reported by check-config rather than at the first connect.
func checkCAFiles(c *config.Config) error {
	check := func(at, file string) error {
		if _, err := loadCA(file); err != nil {
			return fmt.Errorf("config: %s.ca_file: %w", at, err)
		}
		return nil
	}
	if s3 := c.Storage.Blobs.S3; s3 != nil {
		if err := check("storage.blobs.s3", s3.CAFile); err != nil {
			return err
		}
	}
	if k := c.Storage.Events.Kafka; k != nil {
		if err := check("storage.events.kafka", k.CAFile); err != nil {
			return err
		}
	}
	for i, s := range c.Sources {
		if s.S3 != nil {
			if err := check(fmt.Sprintf("sources[%d].s3", i), s.S3.CAFile); err != nil {
				return err
			}
		}
	}
	return nil
}

// The host's drop zones are written by the intake API.
var (
	_ ingest.DropStore = (*dropzone.Dir)(nil)
	_ ingest.DropStore = (*dropzone.S3Zone)(nil)
)
