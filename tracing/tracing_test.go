package tracing_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/tracing"
)

// tree renders the ended spans as "name<parent name" strings, in order of start.
func tree(spans []sdktrace.ReadOnlySpan) []string {
	names := map[string]string{}
	for _, s := range spans {
		names[s.SpanContext().SpanID().String()] = s.Name()
	}
	var out []string
	for _, s := range spans {
		n := s.Name()
		if p, ok := names[s.Parent().SpanID().String()]; ok {
			n += "<" + p
		}
		out = append(out, n)
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if kv.Key == attribute.Key(key) {
			return kv.Value.AsString()
		}
	}
	return ""
}

func TestSpansNest(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	c, err := fastimagecache.New(t.TempDir(), fastimagecache.WithObserver(tracing.New(tp)), fastimagecache.WithMemoryCache(-1))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	tracer := tp.Tracer("test")

	ctx, req := tracer.Start(t.Context(), "request")
	info, err := c.Put(ctx, bytes.NewReader(fixture.PNG(64, 48)))
	require.NoError(t, err)
	r, err := c.Get(ctx, info.ID, fastimagecache.Spec{Width: 16, Format: fastimagecache.JPEG})
	require.NoError(t, err)
	r.Close()
	r, err = c.Get(ctx, info.ID, fastimagecache.Spec{Width: 16, Format: fastimagecache.JPEG})
	require.NoError(t, err)
	r.Close()
	_, err = c.Put(ctx, bytes.NewReader([]byte("not an image")))
	require.ErrorIs(t, err, fastimagecache.ErrUnsupportedFormat)
	req.End()

	spans := rec.Ended()
	// Ended order: children end before their parents.
	assert.Equal(t, []string{
		"fastimagecache.decode<fastimagecache.put", "fastimagecache.store<fastimagecache.put", "fastimagecache.put<request",
		"fastimagecache.render<fastimagecache.get", "fastimagecache.store<fastimagecache.get", "fastimagecache.get<request",
		"fastimagecache.get<request",
		"fastimagecache.put<request",
		"request",
	}, tree(spans))
	for _, s := range spans {
		assert.Equal(t, req.SpanContext().TraceID(), s.SpanContext().TraceID(), "%s is in another trace", s.Name())
	}
	assert.Equal(t, "png", attr(spans[0], "fastimagecache.format"))
	assert.Equal(t, "jpeg", attr(spans[3], "fastimagecache.output"))
	assert.Empty(t, attr(spans[5], "fastimagecache.tier"), "a miss")
	assert.Equal(t, "disk", attr(spans[6], "fastimagecache.tier"))
	assert.Equal(t, codes.Unset, spans[6].Status().Code)
	assert.Equal(t, codes.Error, spans[7].Status().Code)
	assert.Equal(t, "unsupported_format", attr(spans[7], "fastimagecache.reason"))
	assert.Equal(t, "unsupported_format", spans[7].Status().Description)
}
