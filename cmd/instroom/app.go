package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/instroom/instroom/config"
	"github.com/instroom/instroom/ingest"
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
	return runWorker(ctx, c, log, *once)
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
func runWorker(ctx context.Context, c *config.Config, log *slog.Logger, once bool) error {
	opts, err := mapOptions(c)
	if err != nil {
		return err
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

	cs, err := setupChannels(c, channelEnv(c, log, once, false))
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	metrics := newMetrics(reg)
	p := &ingest.Pipeline{
		Blobs: blobs, Publisher: pub, Mapping: opts,
		CESource: "urn:instroom:" + c.Instance,
		Topics:   ingest.Topics{Klantcontacten: c.Storage.Events.Topics.Klantcontacten, Internetaken: c.Storage.Events.Topics.Internetaken, DeadLetter: c.Storage.Events.Topics.DeadLetter},
		Logger:   log, Observer: metrics, MaxItemBytes: c.Limits.MaxMessageBytes,
		Index: blob.NewIndex(blobs, c.Storage.Blobs.Prefix),
	}
	streams, err := newStreams(ctx, c, cs, false)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var ops *http.Server
	if c.Ops.Listen != "" {
		ln, err := net.Listen("tcp", c.Ops.Listen)
		if err != nil {
			return fmt.Errorf("ops endpoint: %w", err)
		}
		ops = &http.Server{Handler: opsHandler(reg), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := ops.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("ops endpoint failed", "err", err)
			}
		}()
		log.Info("ops endpoint listening", "addr", ln.Addr().String())
	}

	intake, err := startIntake(ctx, c, cs, log)
	if err != nil {
		return err
	}
	log.Info("instroom started", "version", versionString(), "sources", len(streams), "blobs", c.Storage.Blobs.Type, "events", c.Storage.Events.Type)
	var wg sync.WaitGroup
	errc := make(chan error, len(streams))
	for _, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.Source.Close()
			if err := ingest.Run(ctx, s, p); err != nil {
				errc <- fmt.Errorf("source %s: %w", s.Name, err)
			}
		}()
	}
	wg.Wait()
	close(errc)
	intake.stop(ctx)
	if ops != nil {
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = ops.Shutdown(sctx)
		scancel()
	}
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	log.Info("instroom stopped")
	return errors.Join(errs...)
}

func mapOptions(c *config.Config) (*ingest.MapOptions, error) {
	m := c.Mapping
	actor := func(a config.Actor, soort string) ingest.ActorSpec {
		s := ingest.ActorSpec{UUID: a.UUID, Naam: a.Naam, SoortActor: soort, Functie: a.Functie, Omschrijving: a.Omschrijving, Emailadres: a.Emailadres}
		if a.Identificator != nil {
			s.Identificator = &ingest.Identificator{ObjectID: a.Identificator.ObjectID, CodeObjecttype: a.Identificator.CodeObjecttype, CodeRegister: a.Identificator.CodeRegister, CodeSoortObjectID: a.Identificator.CodeSoortObjectID}
		}
		return s
	}
	eenheid := func(key string) ingest.ActorSpec { return actor(m.Eenheden[key], "organisatorische_eenheid") }
	tasks := func(ts []config.Task) []ingest.TaskSpec {
		var out []ingest.TaskSpec
		for _, t := range ts {
			spec := ingest.TaskSpec{GevraagdeHandeling: t.GevraagdeHandeling, Toelichting: t.Toelichting}
			for _, e := range t.Eenheden {
				spec.Actors = append(spec.Actors, eenheid(e))
			}
			out = append(out, spec)
		}
		return out
	}
	router := &ingest.Router{Default: tasks(c.Routing.Default)}
	for _, r := range c.Routing.Rules {
		rule := ingest.Rule{
			Name: r.Name, Channels: r.When.Channels, Recipients: r.When.Recipients, SenderDomains: r.When.SenderDomains,
			Signals: r.When.Signals, Tasks: tasks(r.Tasks), Continue: r.Continue,
		}
		var err error
		if r.When.Subject != "" {
			if rule.Subject, err = regexp.Compile(r.When.Subject); err != nil {
				return nil, fmt.Errorf("routing rule %s: %w", r.Name, err)
			}
		}
		if r.When.Text != "" {
			if rule.Text, err = regexp.Compile(r.When.Text); err != nil {
				return nil, fmt.Errorf("routing rule %s: %w", r.Name, err)
			}
		}
		router.Rules = append(router.Rules, rule)
	}
	channels := map[string]ingest.ChannelDefaults{}
	for _, ch := range channelList() {
		channels[ch.Name] = ch.Defaults
	}
	for k, v := range m.Kanalen {
		d := channels[k]
		d.Kanaal = v.Kanaal
		if v.AdresOmschrijving != "" {
			d.AdresOmschrijving = v.AdresOmschrijving
		}
		if z := v.Zaak; z != nil {
			d.ZaakCodes = &ingest.Identificator{CodeObjecttype: z.CodeObjecttype, CodeRegister: z.CodeRegister, CodeSoortObjectID: z.CodeSoortObjectID}
		}
		channels[k] = d
	}
	zaak := ingest.ZaakOptions{Uppercase: *m.Zaak.Uppercase, CodeObjecttype: m.Zaak.CodeObjecttype, CodeRegister: m.Zaak.CodeRegister, CodeSoortObjectID: m.Zaak.CodeSoortObjectID}
	for i, pat := range m.Zaak.Patterns {
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, fmt.Errorf("mapping.zaak.patterns[%d]: %w", i, err)
		}
		zaak.Patterns = append(zaak.Patterns, re)
	}
	return &ingest.MapOptions{
		Taal: m.Taal, Channels: channels, Worker: actor(m.Worker, "geautomatiseerde_actor"), Router: router,
		CodeObjecttype: m.Bijlage.CodeObjecttype, CodeRegister: m.Bijlage.CodeRegister, CodeSoortObjectID: m.Bijlage.CodeSoortObjectID,
		Bronorganisatie: m.Documenten.Bronorganisatie, Informatieobjecttype: m.Documenten.Informatieobjecttype,
		Vertrouwelijkheidaanduiding: m.Documenten.Vertrouwelijkheidaanduiding, KeyPrefix: c.Storage.Blobs.Prefix,
		Zaak: zaak,
	}, nil
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
