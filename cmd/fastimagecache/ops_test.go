package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/metrics"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// records parses JSON log lines; every line must be one whole record.
func records(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "a log line is not one record: %q", line)
		out = append(out, rec)
	}
	return out
}

func TestAccessLog(t *testing.T) {
	var logBuf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, nil))
	c, err := fastimagecache.New(t.TempDir(), fastimagecache.WithLogger(logger))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	info, err := c.Put(t.Context(), bytes.NewReader(fixture.PNG(40, 30)))
	require.NoError(t, err)
	key := []byte("a signing key for the test")
	presets := map[string]fastimagecache.Spec{"thumb": {Width: 16, Height: 16}}
	o := &ops{c: c, log: logger, metrics: metrics.New()}
	srv := httptest.NewServer(o.handler(demoRoutes(c, presets, key, nil)))
	t.Cleanup(srv.Close)

	// A signed URL: its query and signature must stay out of the log.
	signed := fastimagecache.SignedPath(key, info.ID, fastimagecache.Spec{Width: 24})
	_, sig, ok := strings.Cut(signed, "sig=")
	require.True(t, ok)
	req, err := http.NewRequest("GET", srv.URL+"/images"+signed, nil)
	require.NoError(t, err)
	req.Header.Set(requestIDHeader, "proxy-id-42")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "proxy-id-42", resp.Header.Get(requestIDHeader))

	// An upload whose file name carries a line break, a terminal escape and quotes, and
	// whose bytes are rejected (the Cache logs the rejection with the name, quoted).
	const evilName = "evil\r\n\x1b[31mlevel=ERROR msg=\"forged\".png"
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	hdr := textproto.MIMEHeader{}
	// RFC 2231 encoding carries the line break through the part's header.
	hdr.Set("Content-Disposition", `form-data; name="file"; filename*=UTF-8''`+pctEncode(evilName))
	hdr.Set("Content-Type", "image/png")
	part, err := mw.CreatePart(hdr)
	require.NoError(t, err)
	_, _ = part.Write([]byte("not a png at all"))
	require.NoError(t, mw.Close())
	req, err = http.NewRequest("POST", srv.URL+"/api/images?name="+sig, &form)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set(requestIDHeader, "no spaces allowed!")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode, logBuf.String())
	fresh := resp.Header.Get(requestIDHeader)
	assert.Regexp(t, "^[0-9a-f]{16}$", fresh, "an invalid request ID is replaced")

	resp, err = http.Get(srv.URL + "/no/such/route?sig=" + sig)
	require.NoError(t, err)
	resp.Body.Close()

	log := logBuf.String()
	assert.NotContains(t, log, sig, "the signature was logged")
	assert.NotContains(t, log, "w=24", "the signed query was logged")
	assert.NotContains(t, log, string(info.ID), "a path was logged")
	assert.NotContains(t, log, "\x1b", "the file name was logged unescaped")
	assert.NotContains(t, log, "evil\r\n", "the file name was logged unescaped")
	var access []map[string]any
	var names []string
	for _, rec := range records(t, log) {
		assert.NotEqual(t, "forged", rec["msg"])
		if rec["msg"] == "request" {
			access = append(access, rec)
		}
		if name, ok := rec["filename"].(string); ok {
			names = append(names, name)
		}
	}
	require.Len(t, names, 1, "the upload's rejection names its file")
	assert.Contains(t, names[0], `evil\r\n\x1b[31m`, "escaped")
	require.Len(t, access, 3)
	assert.Equal(t, map[string]any{"method": "GET", "route": "GET /images/", "status": 200.0,
		"bytes": float64(len(body)), "request_id": "proxy-id-42"}, pick(access[0], "method", "route", "status", "bytes", "request_id"))
	assert.Positive(t, access[0]["dur"])
	assert.Equal(t, map[string]any{"method": "POST", "route": "POST /api/images", "status": 415.0, "request_id": fresh},
		pick(access[1], "method", "route", "status", "request_id"))
	assert.Equal(t, map[string]any{"route": "unmatched", "status": 404.0}, pick(access[2], "route", "status"))
}

// pctEncode percent-encodes every byte of s but letters and digits (RFC 2231).
func pctEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func pick(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}

func TestReadyz(t *testing.T) {
	c, err := fastimagecache.New(t.TempDir())
	require.NoError(t, err)
	o := &ops{c: c, log: slog.New(slog.DiscardHandler), metrics: metrics.New()}
	h := o.handler(http.NotFoundHandler())
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, strings.TrimSpace(rec.Body.String())
	}
	code, body := get("/readyz")
	assert.Equal(t, http.StatusOK, code, body)
	o.draining.Store(true)
	code, body = get("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "draining", body)
	code, _ = get("/healthz")
	assert.Equal(t, http.StatusOK, code, "alive while draining")
	o.draining.Store(false)
	require.NoError(t, c.Close())
	code, body = get("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "closed", body)
}

// TestServeChild is serve in a child process for TestServeDrainsOnSIGTERM: it runs only
// there, where main's signal handling is in force.
func TestServeChild(t *testing.T) {
	args := os.Getenv("FASTIMAGECACHE_SERVE_CHILD")
	if args == "" {
		t.Skip("runs as TestServeDrainsOnSIGTERM's child")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, append([]string{"serve"}, strings.Fields(args)...), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// SIGTERM to a real server process: /readyz fails at once while /healthz and the images
// still answer, then the server shuts down and exits 0. The metrics listener serves a
// Prometheus scrape that counts the probes.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	const delay = 2 * time.Second
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeChild$")
	cmd.Env = append(os.Environ(), "FASTIMAGECACHE_SERVE_CHILD=-dir "+t.TempDir()+
		" -addr 127.0.0.1:0 -debug-addr= -metrics-addr 127.0.0.1:0 -drain-delay "+delay.String())
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	var base, metricsURL string
	for (base == "" || metricsURL == "") && lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
			base = strings.TrimSuffix(u, "/")
		}
		if u, ok := strings.CutPrefix(lines.Text(), "prometheus metrics on "); ok {
			metricsURL = u
		}
	}
	require.NotEmpty(t, base, "never listened; stderr: %s", stderr.String())
	require.NotEmpty(t, metricsURL)
	rest := make(chan []string, 1)
	go func() {
		var out []string
		for lines.Scan() {
			out = append(out, lines.Text())
		}
		rest <- out
	}()
	status := func(path string) int {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, status("/healthz"))
	require.Equal(t, http.StatusOK, status("/readyz"))

	resp, err := http.Get(metricsURL)
	require.NoError(t, err)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	counted := map[string]float64{}
	for _, m := range mfs["fastimagecache_http_requests_total"].GetMetric() {
		labels := ""
		for _, l := range m.GetLabel() {
			labels += l.GetName() + "=" + l.GetValue() + " "
		}
		counted[labels] = m.GetCounter().GetValue()
	}
	assert.Equal(t, map[string]float64{"code=200 route=GET /healthz ": 1, "code=200 route=GET /readyz ": 1}, counted)
	assert.Contains(t, mfs, "fastimagecache_budget_bytes")
	assert.Contains(t, mfs, "go_goroutines")

	sent := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool { return status("/readyz") == http.StatusServiceUnavailable }, delay/2, 10*time.Millisecond,
		"readyz still passes after SIGTERM")
	assert.Equal(t, http.StatusOK, status("/healthz"), "alive while draining")
	assert.Equal(t, http.StatusOK, status("/"), "still serving while draining")

	require.NoError(t, cmd.Wait(), "stderr: %s", stderr.String())
	assert.GreaterOrEqual(t, time.Since(sent), delay, "shut down before the drain delay")
	assert.Zero(t, status("/healthz"), "still listening after exit")
	out := <-rest
	assert.Contains(t, out, "draining: /readyz fails for 2s, then shutting down")
	assert.Contains(t, out, "shut down")
}
