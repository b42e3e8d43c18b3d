package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/instroom/instroom/config"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/intakeapi"
)

// intakeServer is the one HTTP server of the vendor intake API. Channels contribute its
// routes (ingest.Runtime.Routes) and their part of the OpenAPI document; none of them
// opens a listener of its own. intakeapi.Server is the front door in front of them.
type intakeServer struct {
	srv   *http.Server
	addr  net.Addr
	front *intakeapi.Server // for reloads of the vendors
}

// Addr is the address the server listens on (nil when it is off).
func (s *intakeServer) Addr() net.Addr { return s.addr }

// serveIntake serves the channels' routes and the OpenAPI document on intake.listen
// (nothing when it is empty), telling obs (when not nil) about every answer.
func serveIntake(ctx context.Context, c *config.Config, cs *channelSet, log *slog.Logger, obs intakeapi.Observer) (*intakeServer, error) {
	if c.Intake.Listen == "" {
		return &intakeServer{}, nil
	}
	if err := checkIntakeSources(c, cs); err != nil {
		return nil, err
	}
	spool := filepath.Join(c.DataDir, "spool", "intake")
	if err := prepareIntakeSpool(spool); err != nil {
		return nil, err
	}
	front, err := newIntakeFront(c, cs, log, obs, spool)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", c.Intake.Listen)
	if err != nil {
		return nil, fmt.Errorf("intake endpoint: %w", err)
	}
	s := &intakeServer{addr: ln.Addr(), front: front, srv: &http.Server{
		Handler: front, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
	go func() {
		var err error
		if tl := c.Intake.TLS; tl != nil {
			err = s.srv.ServeTLS(ln, tl.CertFile, tl.KeyFile)
		} else {
			err = s.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("intake endpoint failed", "err", err)
		}
	}()
	log.Info("intake endpoint listening", "addr", ln.Addr().String(), "tls", c.Intake.TLS != nil)
	return s, nil
}

// newIntakeFront builds the front door with every channel's routes and the document.
func newIntakeFront(c *config.Config, cs *channelSet, log *slog.Logger, obs intakeapi.Observer, spool string) (*intakeapi.Server, error) {
	front, err := intakeapi.New(intakeapi.Options{
		Vendors: intakeVendors(c), TLS: c.Intake.TLS != nil, SpoolDir: spool, Observer: obs, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("config: intake: %w", err)
	}
	for _, ch := range cs.list {
		for _, r := range cs.runtimes[ch.Name].Routes() {
			if err := front.Handle(ch.Name, r, intakeLimit(c, ch.Name)); err != nil {
				return nil, fmt.Errorf("channel %s: %w", ch.Name, err)
			}
		}
	}
	doc, err := intakeDocument(cs)
	if err != nil {
		return nil, err
	}
	if err := front.HandlePublic("GET "+intakeapi.DocumentPath, intakeapi.DocumentHandler(doc)); err != nil {
		return nil, err
	}
	return front, nil
}

// intakeDocument assembles the OpenAPI document from the channels that have a part.
func intakeDocument(cs *channelSet) ([]byte, error) {
	var parts []intakeapi.Part
	for _, ch := range cs.list {
		if d, ok := cs.runtimes[ch.Name].(intakeapi.Documented); ok {
			parts = append(parts, d.OpenAPI())
		}
	}
	return intakeapi.Document(parts...)
}

// intakeLimit is the largest request body of a channel's endpoints.
func intakeLimit(c *config.Config, channel string) int64 {
	switch channel {
	case "brief":
		return c.Intake.MaxBriefBytes
	case "chat":
		return c.Intake.MaxGesprekBytes
	}
	return c.Limits.MaxMessageBytes
}

// intakeVendors are the configured vendors as the front door takes them.
func intakeVendors(c *config.Config) []ingest.Vendor {
	var out []ingest.Vendor
	for _, k := range c.Intake.VendorKeys() {
		v := c.Intake.Vendors[k]
		iv := ingest.Vendor{Key: k, Channels: v.Channels, TokenSHA256: v.TokenSHA256, Rate: v.Rate, Burst: v.Burst, URLHosts: v.URLHosts}
		for _, sec := range v.WebhookSecrets {
			iv.WebhookSecrets = append(iv.WebhookSecrets, sec.Value())
		}
		out = append(out, iv)
	}
	return out
}

// checkIntakeSources enforces §11: with intake.listen set, each channel with intake
// routes that a vendor with a token may push to has exactly one drop-zone source, the
// one the API writes into.
func checkIntakeSources(c *config.Config, cs *channelSet) error {
	if c.Intake.Listen == "" {
		return nil
	}
	for _, ch := range cs.list {
		if len(cs.runtimes[ch.Name].Routes()) == 0 {
			continue
		}
		zones := 0
		for _, sc := range c.Sources {
			if sc.Channel == ch.Name && (sc.Type == "dir" || sc.Type == "s3") {
				zones++
			}
		}
		for _, k := range c.Intake.VendorKeys() {
			v := c.Intake.Vendors[k]
			if len(v.TokenSHA256) == 0 || !(ingest.Vendor{Channels: v.Channels}).Allows(ch.Name) {
				continue
			}
			if zones != 1 {
				return fmt.Errorf("config: intake.vendors.%s may push to channel %s, which then needs exactly one drop-zone source (sources[] with channel %s and type dir or s3) for the API to write into; there are %d", k, ch.Name, ch.Name, zones)
			}
		}
	}
	return nil
}

// prepareIntakeSpool creates the spool directory of signed bodies and removes what a
// killed worker left in it.
func prepareIntakeSpool(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("intake spool: %w", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".intake-*"))
	for _, f := range left {
		os.Remove(f)
	}
	return nil
}

// stop ends the server, letting requests in flight finish (at most 5 s).
func (s *intakeServer) stop(ctx context.Context) {
	if s.srv == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(sctx)
}
