package metrics_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/metrics"
)

// scrape fetches url over HTTP and parses the Prometheus text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return mfs
}

// value is the value of the sample of family name whose labels include want (label
// name, value pairs): a counter's or gauge's value, a histogram's count. Absent: 0.
func value(mfs map[string]*dto.MetricFamily, name string, want ...string) float64 {
	mf, ok := mfs[name]
	if !ok {
		return 0
	}
next:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

func TestMetricsMoveWithTheCache(t *testing.T) {
	m := metrics.New()
	c, err := fastimagecache.New(t.TempDir(), fastimagecache.WithObserver(m))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	m.Watch(c)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /images/", http.StripPrefix("/images", c.Handler(fastimagecache.HandlerOptions{
		Presets: map[string]fastimagecache.Spec{"thumb": {Width: 16, Format: fastimagecache.JPEG}},
	})))
	srv := httptest.NewServer(m.InstrumentHTTP(mux))
	t.Cleanup(srv.Close)

	mfs := scrape(t, srv.URL+"/metrics")
	assert.Zero(t, value(mfs, "fastimagecache_puts_total", "outcome", "ok"))
	assert.Equal(t, float64(fastimagecache.DefaultLimits().MemoryBudget), value(mfs, "fastimagecache_budget_bytes"))
	assert.Equal(t, float64(fastimagecache.DefaultLimits().MaxQueue), value(mfs, "fastimagecache_budget_queue_max"))
	assert.Zero(t, value(mfs, "fastimagecache_store_originals"))
	assert.Contains(t, mfs, "fastimagecache_budget_waiting_bytes")

	info, err := c.Put(t.Context(), bytes.NewReader(fixture.PNG(64, 48)))
	require.NoError(t, err)
	_, err = c.Put(t.Context(), bytes.NewReader([]byte("plain text, not an image")))
	require.ErrorIs(t, err, fastimagecache.ErrUnsupportedFormat)

	mfs = scrape(t, srv.URL+"/metrics")
	assert.Equal(t, 1.0, value(mfs, "fastimagecache_puts_total", "outcome", "ok"))
	assert.Equal(t, 1.0, value(mfs, "fastimagecache_puts_total", "outcome", "unsupported_format"))
	assert.Equal(t, 1.0, value(mfs, "fastimagecache_rejections_total", "reason", "unsupported_format"))
	assert.Equal(t, 1.0, value(mfs, "fastimagecache_decode_duration_seconds", "format", "png"))
	assert.Equal(t, 2.0, value(mfs, "fastimagecache_put_duration_seconds", "outcome", "ok")+
		value(mfs, "fastimagecache_put_duration_seconds", "outcome", "unsupported_format"))
	assert.Equal(t, 1.0, value(mfs, "fastimagecache_store_writes_total", "outcome", "ok"))
	assert.Equal(t, 1.0, value(mfs, "fastimagecache_store_originals"))
	assert.Positive(t, value(mfs, "fastimagecache_store_bytes"))

	for range 2 { // a render, then a hit from memory
		resp, err := http.Get(srv.URL + "/images/" + string(info.ID) + "/thumb")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	resp, err := http.Get(srv.URL + "/images/" + string(info.ID[:63]) + "0/thumb")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, err = http.Get(srv.URL + "/elsewhere?sig=secret")
	require.NoError(t, err)
	resp.Body.Close()

	mfs = scrape(t, srv.URL+"/metrics")
	assert.Equal(t, 2.0, value(mfs, "fastimagecache_gets_total", "outcome", "ok"))
	assert.Equal(t, 1.0, value(mfs, "fastimagecache_gets_total", "outcome", "not_found"))
	assert.Equal(t, 1.0, value(mfs, "fastimagecache_get_renders_total"))
	assert.Equal(t, 1.0, value(mfs, "fastimagecache_get_hits_total", "tier", "memory"))
	assert.Zero(t, value(mfs, "fastimagecache_get_hits_total", "tier", "disk"))
	assert.Equal(t, 1.0, value(mfs, "fastimagecache_get_duration_seconds", "source", "render"))
	assert.Equal(t, 1.0, value(mfs, "fastimagecache_get_duration_seconds", "source", "memory"))
	assert.Equal(t, 1.0, value(mfs, "fastimagecache_render_duration_seconds", "format", "png", "output", "jpeg"))
	assert.Equal(t, 1.0, value(mfs, "fastimagecache_store_renditions"))
	assert.Equal(t, 2.0, value(mfs, "fastimagecache_http_requests_total", "route", "GET /images/", "code", "200"))
	assert.Equal(t, 1.0, value(mfs, "fastimagecache_http_requests_total", "route", "GET /images/", "code", "404"))
	assert.Equal(t, 1.0, value(mfs, "fastimagecache_http_requests_total", "route", "unmatched", "code", "404"))
	assert.Equal(t, 2.0, value(mfs, "fastimagecache_http_requests_total", "route", "GET /metrics", "code", "200"), "the scrapes before this one")
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				assert.NotContains(t, l.GetValue(), "sig", "a request's query became a label value")
				assert.NotContains(t, l.GetValue(), string(info.ID[:12]), "a request's path became a label value")
			}
		}
	}
}

func TestMetricsWithoutWatchExportOnlyOperations(t *testing.T) {
	m := metrics.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	mfs := scrape(t, srv.URL)
	_, ok := mfs["fastimagecache_budget_bytes"]
	assert.False(t, ok)
}
