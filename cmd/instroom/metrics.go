package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics implements ingest.Observer with Prometheus metrics.
type metrics struct {
	items    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	up       *prometheus.GaugeVec
	// The intake API (intakeapi.Observer).
	intakeRequests *prometheus.CounterVec
	intakeDuration *prometheus.HistogramVec
	// Operator metrics.
	deadLetters   *prometheus.CounterVec
	oldestWaiting *prometheus.GaugeVec
	ocrPages      *prometheus.CounterVec
	ocrSeconds    prometheus.Histogram
	tokenExpiry   *prometheus.GaugeVec
	infected      *prometheus.CounterVec
	// ready receives the sources' reachability for /readyz (nil: not tracked).
	ready *readiness
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "instroom_items_total",
			Help: "Items handled, by source, channel, outcome (ok, temporary, permanent) and permanent reason.",
		}, []string{"source", "channel", "outcome", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "instroom_item_duration_seconds",
			Help:    "Time to parse, store and publish one item.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"source", "channel"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "instroom_source_up",
			Help: "1 when the source could be read at its last attempt, 0 when not.",
		}, []string{"source"}),
		intakeRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_requests_total",
			Help: "Intake API requests answered, by vendor (\"\" before authentication), resource and status code.",
		}, []string{"vendor", "resource", "status"}),
		intakeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "intake_request_duration_seconds",
			Help:    "Time to answer one intake API request, by resource.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 14),
		}, []string{"resource"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "instroom_dead_letters_total",
			Help: "Items failed for good and published as dead letters, by source, channel and reason.",
		}, []string{"source", "channel", "reason"}),
		oldestWaiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "instroom_oldest_waiting_seconds",
			Help: "Age of the oldest item waiting or in flight at a drop-zone source (0: none), polled every 10s.",
		}, []string{"source"}),
		ocrPages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "instroom_ocr_pages_total",
			Help: "Scan pages OCR'd, by outcome (ok, failed, too_large).",
		}, []string{"outcome"}),
		ocrSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "instroom_ocr_seconds",
			Help:    "Time to OCR one scan page (tesseract, after rendering for PDF pages).",
			Buckets: prometheus.ExponentialBuckets(0.25, 2, 10),
		}),
		tokenExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "instroom_oauth_token_expiry_seconds",
			Help: "Seconds until the XOAUTH2 access token last obtained for an IMAP folder's account expires (negative: expired), polled every 10s.",
		}, []string{"source"}),
		infected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "instroom_infected_total",
			Help: "Items in which the virus scanner found a virus (original quarantined, infected parts not stored), by channel.",
		}, []string{"channel"}),
	}
	reg.MustRegister(m.items, m.duration, m.up, m.intakeRequests, m.intakeDuration,
		m.deadLetters, m.oldestWaiting, m.ocrPages, m.ocrSeconds, m.tokenExpiry, m.infected,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) ItemDone(source, channel, outcome, reason string, d time.Duration) {
	m.items.WithLabelValues(source, channel, outcome, reason).Inc()
	switch outcome {
	case "ok":
		m.duration.WithLabelValues(source, channel).Observe(d.Seconds())
	case "permanent":
		// The pipeline reports a permanent outcome only once its dead letter is published.
		m.deadLetters.WithLabelValues(source, channel, reason).Inc()
	}
}

func (m *metrics) SourceUp(source string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(source).Set(v)
	if m.ready != nil {
		m.ready.source(source, up)
	}
}

// OCRPage implements ingest.ChannelMetrics. A page too large to OCR took no OCR time.
func (m *metrics) OCRPage(outcome string, d time.Duration) {
	m.ocrPages.WithLabelValues(outcome).Inc()
	if outcome != "too_large" {
		m.ocrSeconds.Observe(d.Seconds())
	}
}

// Infected implements ingest.ScanObserver.
func (m *metrics) Infected(channel string) { m.infected.WithLabelValues(channel).Inc() }

// IntakeRequest implements intakeapi.Observer. Every label value is bounded: vendor keys
// come from the configuration, resources are the fixed routes, statuses HTTP codes.
func (m *metrics) IntakeRequest(vendor, resource string, status int, d time.Duration) {
	m.intakeRequests.WithLabelValues(vendor, resource, strconv.Itoa(status)).Inc()
	m.intakeDuration.WithLabelValues(resource).Observe(d.Seconds())
}

// opsHandler serves /metrics, /healthz (liveness: ok while the process runs) and /readyz
// (nil ready: no /readyz).
func opsHandler(reg *prometheus.Registry, ready http.Handler) http.Handler {
	mux := http.NewServeMux()
	if ready != nil {
		mux.Handle("/readyz", ready)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	return mux
}
