// Package tracing makes OpenTelemetry spans of a fastimagecache Cache's operations, so that
// the core package imports no tracing library.
//
// Pass an [Observer] to the Cache, and each Put, Get, decode, render and store becomes a span
// named "fastimagecache.put", "fastimagecache.get", "fastimagecache.decode",
// "fastimagecache.render" and "fastimagecache.store", a child of the span in the context the
// call was given (such as an HTTP server span) and, for decode, render and store, of the Put
// or Get they run in. A render shared by concurrent Gets of one rendition is a child of the
// Get that started it. Spans carry the attributes fastimagecache.format (the input's),
// fastimagecache.output (the rendition's), fastimagecache.tier (where a Get's hit came from)
// and, on failure, fastimagecache.reason (the reason code, as in Stats.Rejections) with
// status Error. No ID, file name, URL or error text is recorded.
package tracing

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/fastimagecache/fastimagecache"
)

// ScopeName is the instrumentation scope of the tracer the spans come from.
const ScopeName = "github.com/fastimagecache/fastimagecache/tracing"

// Observer is a fastimagecache.Observer that makes a span of each operation.
type Observer struct {
	tracer trace.Tracer
}

var _ fastimagecache.Observer = (*Observer)(nil)

// New returns an Observer whose spans come from tp; a nil tp means the global
// TracerProvider (otel.GetTracerProvider) as it is when New is called.
func New(tp trace.TracerProvider) *Observer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Observer{tracer: tp.Tracer(ScopeName)}
}

// Begin implements fastimagecache.Observer: it starts a span named "fastimagecache." + op,
// ended with the outcome's attributes.
func (o *Observer) Begin(ctx context.Context, op fastimagecache.Op) (context.Context, func(fastimagecache.Outcome)) {
	ctx, span := o.tracer.Start(ctx, "fastimagecache."+string(op), trace.WithSpanKind(trace.SpanKindInternal))
	return ctx, func(out fastimagecache.Outcome) {
		attrs := make([]attribute.KeyValue, 0, 4)
		if out.Format != "" {
			attrs = append(attrs, attribute.String("fastimagecache.format", string(out.Format)))
		}
		if out.Output != "" {
			attrs = append(attrs, attribute.String("fastimagecache.output", string(out.Output)))
		}
		if out.Tier != "" {
			attrs = append(attrs, attribute.String("fastimagecache.tier", out.Tier))
		}
		if out.Err != nil {
			attrs = append(attrs, attribute.String("fastimagecache.reason", out.Reason))
			span.SetStatus(codes.Error, out.Reason)
		}
		span.SetAttributes(attrs...)
		span.End()
	}
}
