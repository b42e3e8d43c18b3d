package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/instroom/instroom/config"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/storage/attempts"
	"github.com/instroom/instroom/storage/blob"
	"github.com/instroom/instroom/storage/bus"
)

func cmdRun(ctx context.Context, args []string, stderr io.Writer, environ []string) error {
	fs := flags("run", stderr)
	path := fs.String("config", "", "configuration `file`")
	once := fs.Bool("once", false, "stop when every source is empty instead of waiting for new items")
	if err := fs.Parse(args); err != nil {
		return errUsageOr(err)
	}
	c, err := loadConfig(*path, environ)
	if err != nil {
		return err
	}
	log := newLogger(c.Log, stderr)
	// SIGHUP is caught from here on: during the start it is kept for later, not fatal.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := &reloadSource{hup: hup, load: func() (*config.Config, error) { return loadConfig(*path, environ) }}
	return runWorker(ctx, c, log, *once, reload)
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// runWorker wires the configured sources to the pipeline and runs them until ctx is done
// (or, with once, until every source is empty). The publisher closes last.
// With reload (nil: none), SIGHUP applies a changed configuration (reload.go).
func runWorker(ctx context.Context, c *config.Config, log *slog.Logger, once bool, reload *reloadSource) error {
	if once && c.ScaleOut.Enabled() {
		return errors.New("run -once cannot share sources with other replicas: empty scale_out.group for it (INSTROOM_SCALE_OUT_GROUP=)")
	}
	blobs, err := newBlobStore(ctx, c, log)
	if err != nil {
		return err
	}
	pub, closePub, err := newPublisher(ctx, c, log)
	if err != nil {
		return err
	}
	defer closePub() // the publisher closes last

	reg := prometheus.NewRegistry()
	metrics := newMetrics(reg)
	metrics.ready = newReadiness()
	env := channelEnv(c, log, once, false)
	env.Metrics = metrics
	cs, err := setupChannels(c, env)
	if err != nil {
		return err
	}
	p, err := newPipeline(ctx, c, blobs, pub, metrics, log)
	if err != nil {
		return err
	}
	streams, err := newStreams(ctx, c, cs, false)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lease *leases
	if c.ScaleOut.Enabled() {
		if lease, err = newLeases(c, pub, streams, p, log, reg, metrics.ready); err != nil {
			return err
		}
	}
	w := &watcher{ready: metrics.ready, metrics: metrics, probes: append(readyProbes(c, blobs, pub), scanProbes(p)...), streams: streams, interval: readyInterval, timeout: 5 * time.Second}
	if lease != nil {
		w.active = lease.isMine
	}
	w.register()
	go w.run(ctx)
	return serve(ctx, c, log, once, reload, &served{p: p, cs: cs, streams: streams, lease: lease, metrics: metrics, reg: reg})
}

// newPipeline is the pipeline of the configuration: mapping, blob store, publisher,
// attempt log and virus scanning.
func newPipeline(ctx context.Context, c *config.Config, blobs blobStore, pub ingest.Publisher, metrics *metrics, log *slog.Logger) (*ingest.Pipeline, error) {
	opts, err := mapOptions(c)
	if err != nil {
		return nil, err
	}
	p := &ingest.Pipeline{
		Blobs: blobs, Publisher: pub, Mapping: opts,
		CESource: "urn:instroom:" + c.Instance,
		Topics:   ingest.Topics{Klantcontacten: c.Storage.Events.Topics.Klantcontacten, Internetaken: c.Storage.Events.Topics.Internetaken, DeadLetter: c.Storage.Events.Topics.DeadLetter},
		Logger:   log, Observer: metrics, MaxItemBytes: c.Limits.MaxMessageBytes,
		Index:       blob.NewIndex(blobs, c.Storage.Blobs.Prefix),
		MaxAttempts: c.Limits.MaxAttempts, ItemTimeout: c.Limits.ItemTimeout,
	}
	if p.Attempts, err = attempts.Open(filepath.Join(c.DataDir, "attempts")); err != nil {
		return nil, err
	}
	if err := setupScan(ctx, c, p, blobs, log); err != nil {
		return nil, err
	}
	return p, nil
}

// served is what serve runs.
type served struct {
	p       *ingest.Pipeline
	cs      *channelSet
	streams []ingest.Stream
	lease   *leases // nil: every source runs here
	metrics *metrics
	reg     *prometheus.Registry
}

// serve starts the ops endpoint, the intake API and the reloader, runs the sources until
// ctx is done, and stops everything in order.
func serve(ctx context.Context, c *config.Config, log *slog.Logger, once bool, reload *reloadSource, sv *served) error {
	ops, err := startOps(c, sv.reg, sv.metrics.ready, log)
	if err != nil {
		return err
	}
	intake := &intakeServer{}
	if once {
		// -once drains the sources and stops: no API to serve.
		if c.Intake.Listen != "" {
			log.Info("intake API not served with -once")
		}
	} else if intake, err = serveIntake(ctx, c, sv.cs, log, sv.metrics); err != nil {
		return err
	}
	if reload != nil {
		r := &reloader{load: reload.load, base: c, p: sv.p, front: intake.front, log: log, obs: newReloadMetrics(sv.reg)}
		go r.watch(ctx, reload.hup)
	}
	log.Info("instroom started", "version", versionString(), "sources", len(sv.streams), "blobs", c.Storage.Blobs.Type, "events", c.Storage.Events.Type)
	if sv.lease != nil {
		err = sv.lease.run(ctx)
	} else {
		err = runStreams(ctx, sv.streams, sv.p)
	}
	closeSources(sv.streams)
	intake.stop(ctx)
	if ops != nil {
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = ops.Shutdown(sctx)
		scancel()
	}
	log.Info("instroom stopped")
	return err
}

// readyProbes are the downstreams /readyz checks: the blob store and the event bus, with
// a check when they are remote (S3, Kafka), always ready when local (directory, log).
func readyProbes(c *config.Config, blobs blobStore, pub ingest.Publisher) []probe {
	ps := []probe{{name: "blobs"}, {name: "events"}}
	if s, ok := blobs.(interface{ Check(context.Context) error }); ok {
		ps[0].check = s.Check
	}
	if bp, ok := pub.(busPublisher); ok {
		if k, ok := bp.pub.(interface {
			Check(context.Context, ...string) error
		}); ok {
			t := c.Storage.Events.Topics
			ps[1].check = func(ctx context.Context) error {
				return k.Check(ctx, t.Klantcontacten, t.Internetaken, t.DeadLetter)
			}
		}
	}
	return ps
}

// startOps serves /metrics, /healthz and /readyz on ops.listen (nothing when it is empty).
func startOps(c *config.Config, reg *prometheus.Registry, ready http.Handler, log *slog.Logger) (*http.Server, error) {
	if c.Ops.Listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", c.Ops.Listen)
	if err != nil {
		return nil, fmt.Errorf("ops endpoint: %w", err)
	}
	ops := &http.Server{Handler: opsHandler(reg, ready), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := ops.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("ops endpoint failed", "err", err)
		}
	}()
	log.Info("ops endpoint listening", "addr", ln.Addr().String())
	return ops, nil
}

// runStreams runs every stream until ctx is done (or each reaches its end).
func runStreams(ctx context.Context, streams []ingest.Stream, p *ingest.Pipeline) error {
	var wg sync.WaitGroup
	errc := make(chan error, len(streams))
	for _, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ingest.Run(ctx, s, p); err != nil {
				errc <- fmt.Errorf("source %s: %w", s.Name, err)
			}
		}()
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// closeSources closes every stream's source (unsettled items stay where they are).
func closeSources(streams []ingest.Stream) {
	for _, s := range streams {
		s.Source.Close()
	}
}

// busPublisher adapts a storage/bus publisher to ingest.Publisher, and maps the bus's
// "too large" refusal to a permanent failure.
type busPublisher struct {
	pub interface {
		Publish(ctx context.Context, msgs ...bus.Message) error
	}
}

func (p busPublisher) Publish(ctx context.Context, msgs ...ingest.Message) error {
	out := make([]bus.Message, len(msgs))
	for i, m := range msgs {
		h := make([]bus.Header, len(m.Headers))
		for j, kv := range m.Headers {
			h[j] = bus.Header{Key: kv.Key, Value: kv.Value}
		}
		out[i] = bus.Message{Topic: m.Topic, Key: m.Key, Headers: h, Value: m.Value}
	}
	err := p.pub.Publish(ctx, out...)
	if errors.Is(err, bus.ErrTooLarge) {
		return ingest.Permanent(ingest.ReasonRejected, err)
	}
	return err
}
