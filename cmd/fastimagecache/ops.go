package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/metrics"
)

// ops is what serve adds around the demo routes to run it: health and readiness, draining,
// an access log and request metrics.
type ops struct {
	c        *fastimagecache.Cache
	log      *slog.Logger     // the access log
	metrics  *metrics.Metrics // requests by route and status
	draining atomic.Bool      // set by drain: /readyz fails from then on
}

// handler serves /healthz and /readyz beside next (the demo routes), every request logged
// and counted.
//
//	GET /healthz   200 "ok" while the process serves at all
//	GET /readyz    200 "ready"; 503 "draining" after SIGTERM, "busy" while the decode queue is
//	               full, "storage" when the store cannot write, "closed" after the Cache closed
func (o *ops) handler(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		plain(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", o.readyz)
	mux.Handle("/", next)
	return o.accessLog(o.metrics.InstrumentHTTP(withPageHeaders(mux)))
}

func plain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}

func (o *ops) readyz(w http.ResponseWriter, r *http.Request) {
	if o.draining.Load() {
		plain(w, http.StatusServiceUnavailable, "draining")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := o.c.Ready(ctx); err != nil {
		reason := "storage"
		switch {
		case errors.Is(err, fastimagecache.ErrBusy):
			reason = "busy"
		case errors.Is(err, fastimagecache.ErrClosed):
			reason = "closed"
		}
		plain(w, http.StatusServiceUnavailable, reason)
		return
	}
	plain(w, http.StatusOK, "ready")
}

// drain makes /readyz fail, so a load balancer stops sending traffic, waits delay for it to
// notice (or for ctx to end), then shuts srv down gracefully within grace.
func (o *ops) drain(ctx context.Context, srv *http.Server, delay, grace time.Duration) error {
	o.draining.Store(true)
	o.log.LogAttrs(ctx, slog.LevelInfo, "draining", slog.Duration("delay", delay))
	t := time.NewTimer(delay)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	return srv.Shutdown(sctx)
}

// requestIDHeader carries a request's ID in and out: a valid one from a proxy is kept, any
// other is replaced by a fresh one.
const requestIDHeader = "X-Request-Id"

// requestID returns r's own X-Request-Id when it is 1 to 64 characters of A-Z, a-z, 0-9,
// '-', '_' and '.', and a random one otherwise, so that a log line never carries a client's
// control characters.
func requestID(r *http.Request) string {
	if id := r.Header.Get(requestIDHeader); validRequestID(id) {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// accessLog logs each request when it ends, at Info: method, route (the pattern that served
// it, "unmatched" for none), status, response bytes, duration and request ID. The path and
// query are never logged: a signed URL's query, its signature and an upload's file name stay
// out of the log, and a route has no client bytes in it.
func (o *ops) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r)
		w.Header().Set(requestIDHeader, id)
		cw := &countingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		code := cw.code
		if code == 0 {
			code = http.StatusOK
		}
		o.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", validMethod(r.Method)),
			slog.String("route", route),
			slog.Int("status", code),
			slog.Int64("bytes", cw.n),
			slog.Duration("dur", time.Since(start)),
			slog.String("request_id", id))
	})
}

// validMethod is the request's method if it is a standard one, "other" for anything a
// client made up.
func validMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "other"
}

// countingWriter remembers the status code and counts the body bytes written through it.
type countingWriter struct {
	http.ResponseWriter
	code int
	n    int64
}

func (w *countingWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
