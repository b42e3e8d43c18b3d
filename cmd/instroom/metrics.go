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
	}
	reg.MustRegister(m.items, m.duration, m.up, m.intakeRequests, m.intakeDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) ItemDone(source, channel, outcome, reason string, d time.Duration) {
	m.items.WithLabelValues(source, channel, outcome, reason).Inc()
	if outcome == "ok" {
		m.duration.WithLabelValues(source, channel).Observe(d.Seconds())
	}
}

func (m *metrics) SourceUp(source string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(source).Set(v)
}

// IntakeRequest implements intakeapi.Observer. Every label value is bounded: vendor keys
// come from the configuration, resources are the fixed routes, statuses HTTP codes.
func (m *metrics) IntakeRequest(vendor, resource string, status int, d time.Duration) {
	m.intakeRequests.WithLabelValues(vendor, resource, strconv.Itoa(status)).Inc()
	m.intakeDuration.WithLabelValues(resource).Observe(d.Seconds())
}

func opsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	return mux
}
