package tracing_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"log"
	"os"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/tracing"
)

func Example() {
	dir, err := os.MkdirTemp("", "fastimagecache-tracing")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// In production: the TracerProvider your exporter is set up with.
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	c, err := fastimagecache.New(dir, fastimagecache.WithObserver(tracing.New(tp)))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 32, 32))); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Put(context.Background(), &img); err != nil {
		log.Fatal(err)
	}
	for _, s := range rec.Ended() {
		fmt.Println(s.Name())
	}
	// Output:
	// fastimagecache.decode
	// fastimagecache.store
	// fastimagecache.put
}
