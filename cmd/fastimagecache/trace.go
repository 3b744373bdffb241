package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/fastimagecache/fastimagecache/tracing"
)

// traceScope is the instrumentation scope of serve's own request spans.
const traceScope = "github.com/fastimagecache/fastimagecache/cmd/fastimagecache"

// fileTracer writes spans to a file, one JSON object a line (OpenTelemetry's stdout
// exporter), batched.
type fileTracer struct {
	tp *sdktrace.TracerProvider
	f  *os.File
}

// newFileTracer opens (appends to) path for spans. Close flushes and closes it.
func newFileTracer(path string) (*fileTracer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) // #nosec G304 -- the operator names the file with -trace-file
	if err != nil {
		return nil, fmt.Errorf("-trace-file: %w", err)
	}
	exp, err := stdouttrace.New(stdouttrace.WithWriter(f))
	if err != nil {
		_ = f.Close() // the exporter's error is the one to report
		return nil, fmt.Errorf("-trace-file: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "fastimagecache"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &fileTracer{tp: tp, f: f}, nil
}

// observer is the Cache's tracing observer: spans for Put, Get, decode, render and store.
func (t *fileTracer) observer() *tracing.Observer { return tracing.New(t.tp) }

// Close writes the spans still batched and closes the file.
func (t *fileTracer) Close(ctx context.Context) error {
	return errors.Join(t.tp.Shutdown(ctx), t.f.Close())
}

// handler makes a server span of each request, named by method and route pattern (never
// the path: it holds IDs and signatures), the parent of the Cache's spans for it.
func (t *fileTracer) handler(next http.Handler) http.Handler {
	tracer := t.tp.Tracer(traceScope)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := validMethod(r.Method)
		ctx, span := tracer.Start(r.Context(), method, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		r = r.WithContext(ctx)
		cw := &countingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		name := route
		if !strings.Contains(name, " ") { // a pattern without its method
			name = method + " " + name
		}
		span.SetName(name)
		code := cw.code
		if code == 0 {
			code = http.StatusOK
		}
		span.SetAttributes(attribute.String("http.request.method", method),
			attribute.String("http.route", route), attribute.Int("http.response.status_code", code))
		if code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(code))
		}
	})
}
