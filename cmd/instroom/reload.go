package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/instroom/instroom/config"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/intakeapi"
	"github.com/prometheus/client_golang/prometheus"
)

// reloader applies a changed configuration to a running worker on SIGHUP: routing rules
// and the mapping, and the vendors' tokens, webhook secrets and rate limits. A new
// configuration that does not load or validate is refused as a whole and the running one
// stays in force. Changes to anything else (sources, storage, listeners, a vendor's
// channels or url_hosts, a vendor added) need a restart; they are named in a log line
// and not applied. Connections are kept: nothing is closed or re-opened.
type reloader struct {
	load  func() (*config.Config, error)
	base  *config.Config // the configuration the worker started with
	p     *ingest.Pipeline
	front *intakeapi.Server // nil without the intake API
	log   *slog.Logger
	obs   reloadObserver
}

// reloadObserver counts reloads by result ("ok", "refused").
type reloadObserver interface {
	ConfigReload(result string)
}

// reloadSource is where a reload comes from: the configuration file, on SIGHUP.
type reloadSource struct {
	hup  <-chan os.Signal
	load func() (*config.Config, error)
}

// watch reloads for every signal on hup until ctx is done.
func (r *reloader) watch(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload()
		}
	}
}

// reload loads the configuration again and applies what can change while running.
func (r *reloader) reload() {
	c, opts, vendors, err := r.prepare()
	if err != nil {
		r.obs.ConfigReload("refused")
		r.log.Error("configuration reload refused; the running configuration stays in force", "err", err)
		return
	}
	r.p.SetMapping(opts)
	if r.front != nil {
		if err := r.front.SetVendors(vendors); err != nil { // validated in prepare
			r.obs.ConfigReload("refused")
			r.log.Error("configuration reload refused; the running configuration stays in force", "err", err)
			return
		}
	}
	if pending := restartNeeded(r.base, c); len(pending) > 0 {
		r.log.Warn("configuration reloaded in part: these changes need a restart and were not applied", "keys", strings.Join(pending, ", "))
	}
	r.obs.ConfigReload("ok")
	r.log.Info("configuration reloaded", "routing_rules", ruleCount(c), "vendors", len(vendors))
}

// prepare loads and validates the new configuration completely, as check-config does,
// and builds what reload applies.
func (r *reloader) prepare() (*config.Config, *ingest.MapOptions, []ingest.Vendor, error) {
	c, err := r.load()
	if err != nil {
		return nil, nil, nil, err
	}
	opts, err := mapOptions(c)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := checkCAFiles(c); err != nil {
		return nil, nil, nil, err
	}
	cs, err := setupChannels(c, channelEnv(c, slog.New(slog.DiscardHandler), false, true))
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := newStreams(context.Background(), c, cs, true); err != nil {
		return nil, nil, nil, err
	}
	vendors := liveVendors(r.base, c)
	if _, err := intakeapi.New(intakeapi.Options{Vendors: vendors}); err != nil {
		return nil, nil, nil, fmt.Errorf("config: intake: %w", err)
	}
	return c, opts, vendors, nil
}

// liveVendors are the vendors of the running worker with the tokens, webhook secrets and
// rate limits of c: a vendor removed from c loses its access; one added needs a restart
// (its drop-zone folder is only read after one) and is left out.
func liveVendors(base, c *config.Config) []ingest.Vendor {
	now := map[string]ingest.Vendor{}
	for _, v := range intakeVendors(c) {
		now[v.Key] = v
	}
	var out []ingest.Vendor
	for _, was := range intakeVendors(base) {
		v, ok := now[was.Key]
		if !ok {
			continue
		}
		v.Channels, v.URLHosts = was.Channels, was.URLHosts
		out = append(out, v)
	}
	return out
}

// restartNeeded names the changes of c against base that a reload does not apply.
func restartNeeded(base, c *config.Config) []string {
	var keys []string
	strip := func(x *config.Config) string {
		y := *x
		y.Mapping, y.Routing = config.Mapping{}, nil
		y.Intake.Vendors = nil
		return y.String()
	}
	if strip(base) != strip(c) {
		keys = append(keys, "settings outside mapping, routing and intake.vendors")
	}
	for k, was := range base.Intake.Vendors {
		if v, ok := c.Intake.Vendors[k]; ok && (!slices.Equal(v.Channels, was.Channels) || !slices.Equal(v.URLHosts, was.URLHosts)) {
			keys = append(keys, "intake.vendors."+k+".channels/url_hosts")
		}
	}
	for _, k := range c.Intake.VendorKeys() {
		if _, ok := base.Intake.Vendors[k]; !ok {
			keys = append(keys, "intake.vendors."+k+" (added)")
		}
	}
	if !kanalenEqual(base, c) {
		keys = append(keys, "mapping.kanalen.<channel> channel settings")
	}
	slices.Sort(keys)
	return keys
}

// kanalenEqual reports whether the channels' own mapping settings (mapping.kanalen.<ch>
// keys a channel decodes at start) are the same.
func kanalenEqual(a, b *config.Config) bool {
	for _, ch := range channelList() {
		x, _ := yaml.Marshal(a.Mapping.Kanalen[ch.Name].Extra)
		y, _ := yaml.Marshal(b.Mapping.Kanalen[ch.Name].Extra)
		if string(x) != string(y) {
			return false
		}
	}
	return true
}

func ruleCount(c *config.Config) int {
	if c.Routing == nil {
		return 0
	}
	return len(c.Routing.Rules)
}

// reloadMetrics counts configuration reloads.
type reloadMetrics struct {
	reloads *prometheus.CounterVec
	last    prometheus.Gauge
}

func newReloadMetrics(reg prometheus.Registerer) *reloadMetrics {
	m := &reloadMetrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "instroom_config_reloads_total",
			Help: "Configuration reloads (SIGHUP), by result: ok, refused (the running configuration stayed in force).",
		}, []string{"result"}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "instroom_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully (start or reload), as a Unix time.",
		}),
	}
	reg.MustRegister(m.reloads, m.last)
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("refused")
	m.last.SetToCurrentTime()
	return m
}

// ConfigReload implements reloadObserver.
func (m *reloadMetrics) ConfigReload(result string) {
	m.reloads.WithLabelValues(result).Inc()
	if result == "ok" {
		m.last.SetToCurrentTime()
	}
}
