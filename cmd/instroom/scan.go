package main

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/instroom/instroom/config"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/storage/clamd"
)

// clamdScanner adapts a clamd client to ingest.Scanner: content over clamd's
// StreamMaxLength can never be scanned, so it fails for good (too_large) instead of
// being retried forever; every other failure stays temporary.
type clamdScanner struct{ c *clamd.Client }

func (s clamdScanner) Scan(ctx context.Context, r io.Reader) (string, error) {
	sig, err := s.c.Scan(ctx, r)
	if errors.Is(err, clamd.ErrSizeLimit) {
		return "", ingest.Permanent(ingest.ReasonTooLarge, err)
	}
	return sig, err
}

// setupScan gives the pipeline its virus scanner and quarantine when scan.clamd.address
// is set. An unreachable clamd is only logged: items wait (unscanned, unstored) until it
// answers.
func setupScan(ctx context.Context, c *config.Config, p *ingest.Pipeline, blobs ingest.BlobStore, log *slog.Logger) error {
	if !c.Scan.Enabled() {
		return nil
	}
	cl, err := clamd.New(c.Scan.Clamd.Address, c.Scan.Clamd.Timeout)
	if err != nil {
		return err
	}
	if err := startupCheck(ctx, log, "clamd", cl.Ping, func(error) bool { return false }); err != nil {
		return err
	}
	p.Scanner = clamdScanner{cl}
	p.Quarantine = &ingest.Quarantine{Blobs: blobs, Prefix: c.Scan.Quarantine.Prefix}
	log.Info("virus scanning on", "clamd", cl.String(), "quarantine", c.Scan.Quarantine.Prefix)
	return nil
}

// scanProbes is the readiness check of clamd (PING), when scanning is on.
func scanProbes(p *ingest.Pipeline) []probe {
	if s, ok := p.Scanner.(clamdScanner); ok {
		return []probe{{name: "clamd", check: s.c.Ping}}
	}
	return nil
}
