// Package metrics exports a fastimagecache Cache's operations and state to Prometheus, so
// that the core package imports no metrics library.
//
// # Use
//
// Make a [Metrics] with [New], pass it to the Cache as its Observer, let it read the
// Cache's gauges at scrape time with [Metrics.Watch], and register it:
//
//	m := metrics.New()
//	c, err := fastimagecache.New(dir, fastimagecache.WithObserver(m))
//	...
//	m.Watch(c)
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(m)
//	http.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// [Metrics.InstrumentHTTP] counts a server's requests by route pattern and status code.
//
// # Metrics
//
// Counters and histograms, from the Observer:
//
//	fastimagecache_puts_total{outcome}                 Puts (and Fetches); outcome "ok" or the reason code
//	fastimagecache_gets_total{outcome}                 Gets; outcome "ok" or the reason code
//	fastimagecache_get_hits_total{tier}                Gets served from "memory", "disk" or "bucket"
//	fastimagecache_get_renders_total                   Gets that rendered (misses served)
//	fastimagecache_put_duration_seconds{outcome}       Put wall time
//	fastimagecache_get_duration_seconds{source}        Get wall time; source: a tier, or "render"
//	fastimagecache_decode_duration_seconds{format}     proving decodes at Put, by input format
//	fastimagecache_render_duration_seconds{format,output} renders, by input and output format
//	fastimagecache_store_writes_total{outcome}         originals and renditions written
//	fastimagecache_http_requests_total{route,code}     InstrumentHTTP: requests by route pattern and status
//	fastimagecache_http_request_duration_seconds{route} InstrumentHTTP: request wall time
//
// Read from [fastimagecache.Cache.Stats] at each scrape (Watch):
//
//	fastimagecache_rejections_total{reason}      failed calls by reason code (the handler's own too)
//	fastimagecache_budget_bytes                  the decode memory budget
//	fastimagecache_budget_in_use_bytes           budget reserved now
//	fastimagecache_budget_queue                  decodes waiting for budget now
//	fastimagecache_budget_waiting_bytes          memory those waiters hold outside the budget (inputs)
//	fastimagecache_budget_queue_max              Limits.MaxQueue; a full queue refuses with ErrBusy
//	fastimagecache_budget_waits_total            decodes that had to wait for budget
//	fastimagecache_decodes_in_flight             decodes holding budget now
//	fastimagecache_store_bytes                   bytes of originals and renditions on local disk
//	fastimagecache_store_originals               originals stored
//	fastimagecache_store_renditions              renditions stored
//	fastimagecache_store_evictions_total         renditions evicted for the quota
//	fastimagecache_workers_started_total         isolated decode workers started (WithIsolation)
//	fastimagecache_workers_failed_total          isolated workers killed after a failed job or found dead
//	fastimagecache_bucket_errors_total           bucket calls failed after retries (WithBucket)
//	fastimagecache_bucket_corrupt_total          bucket objects that failed verification
//
// Labels take values from fixed sets (reason codes, formats, tiers, route patterns of the
// server's own mux), never from request data, so their number stays small.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fastimagecache/fastimagecache"
)

const ns = "fastimagecache"

// Metrics is a fastimagecache.Observer and a prometheus.Collector for one Cache. Register it
// with one registry; for several Caches in one process, make one Metrics each and register
// them with prometheus.WrapRegistererWith and a distinguishing label. It is safe for
// concurrent use.
type Metrics struct {
	puts, gets, hits, stores *prometheus.CounterVec
	renders                  prometheus.Counter
	putDur, getDur           *prometheus.HistogramVec
	decodeDur, renderDur     *prometheus.HistogramVec
	httpReqs                 *prometheus.CounterVec
	httpDur                  *prometheus.HistogramVec

	// mu guards cache.
	mu    sync.Mutex
	cache *fastimagecache.Cache
}

var _ fastimagecache.Observer = (*Metrics)(nil)

// Buckets of the duration histograms, in seconds: from a memory hit (tens of
// microseconds) to a decode at the default 10 s timeout.
var durationBuckets = []float64{.0001, .0005, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New returns a Metrics with every counter at zero and no Cache watched.
func New() *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
	}
	hist := func(name, help string, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, Buckets: durationBuckets}, labels)
	}
	return &Metrics{
		puts:   counter("puts_total", "Puts (and Fetches) by outcome: ok, or the reason code of the failure.", "outcome"),
		gets:   counter("gets_total", "Gets by outcome: ok, or the reason code of the failure.", "outcome"),
		hits:   counter("get_hits_total", "Gets served from a stored rendition, by tier (memory, disk, bucket).", "tier"),
		stores: counter("store_writes_total", "Originals and renditions written to the store, by outcome.", "outcome"),
		renders: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "get_renders_total",
			Help: "Gets that found no stored rendition and were served one rendered for them."}),
		putDur:    hist("put_duration_seconds", "Wall time of Puts, by outcome.", "outcome"),
		getDur:    hist("get_duration_seconds", "Wall time of successful Gets, by source: a tier, or render.", "source"),
		decodeDur: hist("decode_duration_seconds", "Wall time of the proving decodes at Put, by input format.", "format"),
		renderDur: hist("render_duration_seconds", "Wall time of renders (decode, resize, encode), by input and output format.", "format", "output"),
		httpReqs:  counter("http_requests_total", "HTTP requests by route pattern and status code.", "route", "code"),
		httpDur:   hist("http_request_duration_seconds", "Wall time of HTTP requests, by route pattern.", "route"),
	}
}

// Begin implements fastimagecache.Observer: it records the operation when it ends.
func (m *Metrics) Begin(ctx context.Context, op fastimagecache.Op) (context.Context, func(fastimagecache.Outcome)) {
	return ctx, func(o fastimagecache.Outcome) { m.record(op, o) }
}

func outcome(o fastimagecache.Outcome) string {
	if o.Err == nil {
		return "ok"
	}
	return o.Reason
}

func (m *Metrics) record(op fastimagecache.Op, o fastimagecache.Outcome) {
	secs := o.Duration.Seconds()
	switch op {
	case fastimagecache.OpPut:
		m.puts.WithLabelValues(outcome(o)).Inc()
		m.putDur.WithLabelValues(outcome(o)).Observe(secs)
	case fastimagecache.OpGet:
		m.gets.WithLabelValues(outcome(o)).Inc()
		if o.Err != nil {
			return
		}
		source := o.Tier
		if source == "" {
			source = "render"
			m.renders.Inc()
		} else {
			m.hits.WithLabelValues(o.Tier).Inc()
		}
		m.getDur.WithLabelValues(source).Observe(secs)
	case fastimagecache.OpDecode:
		if o.Err == nil {
			m.decodeDur.WithLabelValues(string(o.Format)).Observe(secs)
		}
	case fastimagecache.OpRender:
		if o.Err == nil {
			m.renderDur.WithLabelValues(string(o.Format), string(o.Output)).Observe(secs)
		}
	case fastimagecache.OpStore:
		m.stores.WithLabelValues(outcome(o)).Inc()
	}
}

// Watch makes each scrape read the gauges and the counters kept by c (Stats): budget,
// queue, store, workers, rejections. Before Watch, and with a nil c, they are not exported.
// It replaces the Cache watched before.
func (m *Metrics) Watch(c *fastimagecache.Cache) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cache = c
}

// statDesc describes one metric read from Stats.
type statDesc struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(s fastimagecache.Stats) float64
}

func stat(name, help string, kind prometheus.ValueType, value func(s fastimagecache.Stats) float64) statDesc {
	return statDesc{prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, nil, nil), kind, value}
}

var (
	rejectionsDesc = prometheus.NewDesc(ns+"_rejections_total", "Failed calls by reason code, the handler's own included.", []string{"reason"}, nil)
	statDescs      = []statDesc{
		stat("budget_bytes", "The memory budget for decodes in flight.", prometheus.GaugeValue, func(s fastimagecache.Stats) float64 { return float64(s.BudgetSize) }),
		stat("budget_in_use_bytes", "Bytes of the memory budget reserved now.", prometheus.GaugeValue, func(s fastimagecache.Stats) float64 { return float64(s.BudgetInUse) }),
		stat("budget_queue", "Decodes waiting for memory budget now.", prometheus.GaugeValue, func(s fastimagecache.Stats) float64 { return float64(s.BudgetQueue) }),
		stat("budget_waiting_bytes", "Memory held outside the budget by decodes waiting for it (uploads' inputs).", prometheus.GaugeValue, func(s fastimagecache.Stats) float64 { return float64(s.BudgetWaitingBytes) }),
		stat("budget_queue_max", "Decodes that may wait for budget at once; beyond, calls fail with busy.", prometheus.GaugeValue, func(s fastimagecache.Stats) float64 { return float64(s.MaxQueue) }),
		stat("budget_waits_total", "Decodes that had to wait for memory budget.", prometheus.CounterValue, func(s fastimagecache.Stats) float64 { return float64(s.BudgetWaits) }),
		stat("decodes_in_flight", "Decodes holding memory budget now.", prometheus.GaugeValue, func(s fastimagecache.Stats) float64 { return float64(s.InFlight) }),
		stat("store_bytes", "Bytes of originals and renditions on local disk.", prometheus.GaugeValue, func(s fastimagecache.Stats) float64 { return float64(s.StoreBytes) }),
		stat("store_originals", "Originals stored.", prometheus.GaugeValue, func(s fastimagecache.Stats) float64 { return float64(s.Originals) }),
		stat("store_renditions", "Renditions stored.", prometheus.GaugeValue, func(s fastimagecache.Stats) float64 { return float64(s.Renditions) }),
		stat("store_evictions_total", "Renditions evicted to stay within the store quota.", prometheus.CounterValue, func(s fastimagecache.Stats) float64 { return float64(s.Evictions) }),
		stat("workers_started_total", "Isolated decode worker processes started.", prometheus.CounterValue, func(s fastimagecache.Stats) float64 { return float64(s.WorkersStarted) }),
		stat("workers_failed_total", "Isolated decode workers killed after a failed job, or found dead.", prometheus.CounterValue, func(s fastimagecache.Stats) float64 { return float64(s.WorkersFailed) }),
		stat("bucket_errors_total", "Bucket calls that failed after their retries.", prometheus.CounterValue, func(s fastimagecache.Stats) float64 { return float64(s.BucketErrors) }),
		stat("bucket_corrupt_total", "Bucket objects that failed verification and were not served.", prometheus.CounterValue, func(s fastimagecache.Stats) float64 { return float64(s.BucketCorrupt) }),
	}
)

func (m *Metrics) vecs() []prometheus.Collector {
	return []prometheus.Collector{m.puts, m.gets, m.hits, m.stores, m.renders, m.putDur, m.getDur,
		m.decodeDur, m.renderDur, m.httpReqs, m.httpDur}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, v := range m.vecs() {
		v.Describe(ch)
	}
	ch <- rejectionsDesc
	for _, d := range statDescs {
		ch <- d.desc
	}
}

// Collect implements prometheus.Collector. It calls Stats on the watched Cache, which never
// blocks on decodes.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, v := range m.vecs() {
		v.Collect(ch)
	}
	m.mu.Lock()
	c := m.cache
	m.mu.Unlock()
	if c == nil {
		return
	}
	s := c.Stats()
	for reason, n := range s.Rejections {
		ch <- prometheus.MustNewConstMetric(rejectionsDesc, prometheus.CounterValue, float64(n), reason)
	}
	for _, d := range statDescs {
		ch <- prometheus.MustNewConstMetric(d.desc, d.kind, d.value(s))
	}
}

// InstrumentHTTP counts next's requests by route and status code, and times them. The route
// is the pattern of the http.ServeMux that served the request (Request.Pattern, such as
// "GET /images/"), read after next returns: next should be, or wrap, the server's mux.
// Requests no pattern matched count under route "unmatched". The path and query are never
// used, so clients cannot make new label values.
func (m *Metrics) InstrumentHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.httpReqs.WithLabelValues(route, strconv.Itoa(sw.status())).Inc()
		m.httpDur.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
