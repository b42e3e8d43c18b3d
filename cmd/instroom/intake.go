package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/instroom/instroom/config"
)

// intakeServer is the one HTTP server of the vendor intake API. Channels contribute its
// routes (ingest.Runtime.Routes); none of them opens a listener of its own.
type intakeServer struct {
	srv  *http.Server
	addr net.Addr
}

// Addr is the address the server listens on (nil when it is off).
func (s *intakeServer) Addr() net.Addr { return s.addr }

// startIntake serves the channels' routes on intake.listen (nothing when it is empty).
func startIntake(ctx context.Context, c *config.Config, cs *channelSet, log *slog.Logger) (*intakeServer, error) {
	if c.Intake.Listen == "" {
		return &intakeServer{}, nil
	}
	mux := http.NewServeMux()
	routes := 0
	for _, ch := range cs.list {
		for _, r := range cs.runtimes[ch.Name].Routes() {
			mux.Handle(r.Pattern, r.Handler)
			routes++
		}
	}
	ln, err := net.Listen("tcp", c.Intake.Listen)
	if err != nil {
		return nil, fmt.Errorf("intake endpoint: %w", err)
	}
	s := &intakeServer{addr: ln.Addr(), srv: &http.Server{
		Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
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
	log.Info("intake endpoint listening", "addr", ln.Addr().String(), "routes", routes, "tls", c.Intake.TLS != nil)
	return s, nil
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
