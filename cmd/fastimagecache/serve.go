package main

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"expvar"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	rtdebug "runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/metrics"
)

//go:embed web
var webFS embed.FS

// presetFlag collects -preset name=WxH[:cover][:format][:quality] flags.
type presetFlag map[string]fastimagecache.Spec

func (p presetFlag) String() string { return fmt.Sprint(map[string]fastimagecache.Spec(p)) }

func (p presetFlag) Set(v string) error {
	name, rest, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return errors.New("want name=WxH[:cover][:auto|jpeg|png|gif|webp|avif][:quality]")
	}
	fields := strings.Split(rest, ":")
	ws, hs, ok := strings.Cut(fields[0], "x")
	if !ok {
		return errors.New("size must be WxH")
	}
	var s fastimagecache.Spec
	var err error
	if s.Width, err = strconv.Atoi(ws); err != nil {
		return err
	}
	if s.Height, err = strconv.Atoi(hs); err != nil {
		return err
	}
	for _, f := range fields[1:] {
		switch f {
		case "cover":
			s.Fit = fastimagecache.Cover
		case "contain":
		case "auto", "jpeg", "png", "gif", "webp", "avif":
			s.Format = fastimagecache.Format(f)
		default:
			q, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("unknown preset option %q", f)
			}
			s.Quality = q
		}
	}
	p[name] = s
	return nil
}

func parseFormats(s string) ([]fastimagecache.Format, error) {
	var out []fastimagecache.Format
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch fastimagecache.Format(f) {
		case fastimagecache.JPEG, fastimagecache.PNG, fastimagecache.GIF, fastimagecache.WebP, fastimagecache.AVIF, fastimagecache.BMP, fastimagecache.TIFF, fastimagecache.HEIC:
			out = append(out, fastimagecache.Format(f))
		default:
			return nil, fmt.Errorf("unknown format %q", f)
		}
	}
	return out, nil
}

// serve runs the demo server until ctx is done, then shuts down gracefully.
func serve(ctx context.Context, args []string, stdout io.Writer) error {
	fl := newFlagSet("serve", "[-dir D] [-bucket URL] [-addr HOST:PORT] [-debug-addr HOST:PORT] [-metrics-addr HOST:PORT] [-trace-file F] [-drain-delay D] [-preset name=WxH[:cover][:fmt][:q]]... [-formats jpeg,png,gif,webp,avif] [-signing-key-file F] [-fallback IMAGE] [-max-store-bytes N] [-isolate] [-runtime-memory-limit=false]",
		"Serve the upload page, the upload API (/api/images), the presets the page shows (/api/presets)\n"+
			"and renditions (/images/{id}/{preset}).\n\n"+
			"/healthz answers 200 while the process runs; /readyz answers 200 while the store can write\n"+
			"and the decode queue has room, and 503 from SIGTERM on: serve then waits -drain-delay for\n"+
			"load balancers to notice, and shuts down gracefully. Each request is logged to stderr\n"+
			"(method, route, status, bytes, duration, request ID; never a path or query).\n\n"+
			"The Go runtime's soft memory limit is lowered to the decode memory budget + the memory\n"+
			"tier + 64 MiB (1152 MiB), so the heap's slack between collections stays small and the\n"+
			"process's resident memory follows the budget under a flood of uploads; a lower GOMEMLIMIT\n"+
			"in the environment is kept.", stdout)
	dir := fl.String("dir", defaultDir(), "store directory")
	bucket := fl.String("bucket", "", bucketUsage)
	addr := fl.String("addr", "127.0.0.1:8080", "listen address for the page and the images")
	debugAddr := fl.String("debug-addr", "127.0.0.1:8081", "listen address for expvar metrics at /debug/vars (empty: off)")
	traceFile := fl.String("trace-file", "", "append OpenTelemetry spans (requests, Put, Get, decode, render, store) to this file as JSON lines (empty: off)")
	metricsAddr := fl.String("metrics-addr", "", "listen address for Prometheus metrics at /metrics, e.g. 127.0.0.1:9464 (empty: off); keep it private")
	drainDelay := fl.Duration("drain-delay", 5*time.Second, "after SIGTERM, how long /readyz fails before the server stops accepting connections")
	formats := fl.String("formats", "jpeg,png,gif,webp,avif", "accepted input formats (bmp, tiff and heic opt-in; heic needs a build with -tags heic)")
	keyFile := fl.String("signing-key-file", "", "file holding the key that signs arbitrary sizes and crops (empty: a random key made at start, so signed URLs end with the process)")
	maxStore := fl.Int64("max-store-bytes", 0, "rendition quota in bytes (0: 1 GiB)")
	fallbackFile := fl.String("fallback", "", "an image served, at the size asked for and with the error's status, in place of a rendition that fails (checked as an upload is; never cached)")
	isolate := fl.Bool("isolate", false, "decode, resize and encode untrusted images in confined worker processes")
	memLimit := fl.Bool("runtime-memory-limit", true, "lower the Go runtime's memory limit to what the Cache needs (false: leave GOMEMLIMIT as it is)")
	presets := presetFlag{}
	fl.Var(presets, "preset", "a named rendition, repeatable (default thumb=160x160:cover:auto and small=320x320:auto; auto picks AVIF, WebP or the source's format per client Accept)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 0 {
		return usageError{"serve takes no arguments"}
	}
	if len(presets) == 0 {
		// Auto: AVIF, WebP or the source's own format, as each client's Accept allows.
		presets["thumb"] = fastimagecache.Spec{Width: 160, Height: 160, Fit: fastimagecache.Cover, Format: fastimagecache.Auto}
		presets["small"] = fastimagecache.Spec{Width: 320, Height: 320, Format: fastimagecache.Auto}
	}
	fmts, err := parseFormats(*formats)
	if err != nil {
		return usageError{err.Error()}
	}
	var key []byte
	if *keyFile != "" {
		if key, err = os.ReadFile(*keyFile); err != nil {
			return err
		}
		key = []byte(strings.TrimSpace(string(key)))
	}
	if len(key) == 0 {
		// The page's srcset and crops are signed URLs: without a key file, sign them with
		// one made now, which only this process knows (its URLs end with it).
		key = make([]byte, 32)
		_, _ = rand.Read(key) // never fails (crypto/rand)
		fmt.Fprintln(stdout, "signing key made at start: the page's srcset and crop URLs last as long as this process (-signing-key-file keeps them)")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	m := metrics.New()
	var observer fastimagecache.Observer = m
	var tracer *fileTracer
	if *traceFile != "" {
		if tracer, err = newFileTracer(*traceFile); err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = tracer.Close(sctx) // spans are best effort; serve's own error is the one to report
		}()
		observer = fastimagecache.MultiObserver(m, tracer.observer())
	}
	opts := []fastimagecache.Option{
		fastimagecache.WithObserver(observer),
		fastimagecache.WithLimits(fastimagecache.Limits{Formats: fmts}),
		fastimagecache.WithMaxStoreBytes(*maxStore),
		fastimagecache.WithLogger(logger),
		// The presets are what the upload page shows right after an upload: render them
		// at Put, from the proving decode where it serves.
		fastimagecache.WithEagerRenditions(slices.Collect(maps.Values(presets))...),
	}
	if *isolate {
		opts = append(opts, fastimagecache.WithIsolation(fastimagecache.IsolationConfig{}))
	}
	if *memLimit {
		opts = append(opts, fastimagecache.WithRuntimeMemoryLimit())
	}
	bo, err := bucketOption(ctx, *bucket)
	if err != nil {
		return err
	}
	c, err := newCache(*dir, append(opts, bo...)...)
	if err != nil {
		return err
	}
	defer c.Close()
	if *memLimit {
		fmt.Fprintf(stdout, "runtime memory limit %d MiB (budget + memory tier + 64 MiB: %d MiB)\n",
			rtdebug.SetMemoryLimit(-1)>>20, c.RuntimeMemoryLimit()>>20) // -1 reads the limit
	}

	var fallback []byte
	if *fallbackFile != "" {
		if fallback, err = loadFallback(ctx, c, *fallbackFile); err != nil {
			return err
		}
	}

	m.Watch(c)
	o := &ops{c: c, log: logger, metrics: m}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	handler := o.handler(demoRoutes(c, presets, key, fallback))
	if tracer != nil {
		handler = tracer.handler(handler)
		fmt.Fprintf(stdout, "tracing to %s\n", *traceFile)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "listening on http://%s/\n", ln.Addr())

	var debug *http.Server
	if *debugAddr != "" {
		expvar.Publish("fastimagecache", expvar.Func(func() any { return c.Stats() }))
		dln, err := net.Listen("tcp", *debugAddr)
		if err != nil {
			_ = srv.Close() // the listen error is the one to report
			return err
		}
		dmux := http.NewServeMux()
		dmux.Handle("GET /debug/vars", expvar.Handler())
		debug = &http.Server{Handler: withPageHeaders(dmux), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- debug.Serve(dln) }()
		fmt.Fprintf(stdout, "metrics on http://%s/debug/vars\n", dln.Addr())
	}

	var metricsSrv *http.Server
	if *metricsAddr != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			_ = srv.Close() // the listen error is the one to report
			if debug != nil {
				_ = debug.Close()
			}
			return err
		}
		mmux := http.NewServeMux()
		mmux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		metricsSrv = &http.Server{Handler: withPageHeaders(mmux), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- metricsSrv.Serve(mln) }()
		fmt.Fprintf(stdout, "prometheus metrics on http://%s/metrics\n", mln.Addr())
	}

	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	fmt.Fprintf(stdout, "draining: /readyz fails for %v, then shutting down\n", *drainDelay)
	err = o.drain(context.Background(), srv, *drainDelay, 15*time.Second)
	fmt.Fprintln(stdout, "shut down")
	for _, s := range []*http.Server{debug, metricsSrv} {
		if s != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.Shutdown(sctx)
			cancel()
		}
	}
	return err
}
