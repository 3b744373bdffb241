package fastimagecache

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/sandbox"
	"github.com/fastimagecache/fastimagecache/internal/workerproto"
)

// Isolated decoding: with WithIsolation, every decode, resize and encode of untrusted
// bytes (Get's render and Put's proving decode) runs in a pool of worker processes, so that
// an image that makes a decoder allocate without bound, spin, crash the runtime or, in a
// future cgo codec, corrupt memory, takes down one confined worker instead of the host.
//
// A worker is this very program, started again with the environment variable
// FASTIMAGECACHE_WORKER=1; RunWorkerIfRequested, called first thing in main, turns it
// into a worker. The host writes it a Setup frame, the worker confines itself (rlimits,
// Landlock, seccomp: internal/sandbox) and answers Hello, then serves jobs one at a time
// over its stdin and stdout (internal/workerproto). The host decodes no pixel of what comes
// back: it bounds the answer's size (and reserves that bound from the memory budget), and
// accepts a rendition only in the exact container layout our encoder writes
// (internal/canon), of the size the worker claims, within the spec's box.

// workerEnv is the environment variable that makes a process a worker.
const workerEnv = "FASTIMAGECACHE_WORKER"

// workerPrepareEnv, set to "1" in a worker's environment, makes it compile the wazero
// codecs (codec.Prepare) before it confines itself: its filter then refuses executable
// memory for good, and the AVIF and HEIC codecs run the code compiled before any untrusted
// byte arrived. A worker without it runs them on wazero's interpreter, 10 to 40 times
// slower.
const workerPrepareEnv = "FASTIMAGECACHE_WORKER_PREPARE"

// prepareCodecs makes the host ask its workers to prepare the wazero codecs whenever
// codec.Check passes. Test binaries clear it in TestMain, so that workers start in
// milliseconds rather than seconds (IsolationConfig.testPrepare sets it back per Cache).
var prepareCodecs = true

// workerPrepareTime is added to a worker's start timeout when it prepares the codecs:
// compiling them takes 1.6 s of CPU time (measured; about 14 s under the race detector,
// and over a minute of wall time on a loaded machine, hence 5 times as long there).
const workerPrepareTime = 60 * time.Second

// Fixed bounds of the worker pool that are not worth a knob.
const (
	// workerOpenFiles is a worker's RLIMIT_NOFILE: stdio, the runtime's poller and
	// Landlock's ruleset, and a little slack.
	workerOpenFiles = 16
	// workerRetainBytes is the memory a worker keeps mapped between jobs; above it, it
	// returns memory to the system after answering.
	workerRetainBytes = 64 << 20
	// workerJobHeadroom is added to a job's reservation for its worker's soft memory limit
	// during the job: the runtime, the request and answer buffers, and a worker's baseline.
	workerJobHeadroom = 32 << 20
	// workerStderrBytes is how much of each worker's standard error reaches
	// IsolationConfig.Stderr.
	workerStderrBytes = 64 << 10
	// defaultJobsPerWorker is IsolationConfig.JobsPerWorker's default.
	defaultJobsPerWorker = 100
	// defaultWorkerProcs is IsolationConfig.WorkerProcs's default.
	defaultWorkerProcs = 2
	// minWorkerMemory is the least MemoryLimit a worker gets: its runtime, a request and
	// a response.
	minWorkerMemory = 64 << 20
)

// IsolationConfig configures [WithIsolation]. A zero field takes the default given with
// it; a negative field makes [New] fail.
type IsolationConfig struct {
	// Workers is the number of worker processes; each runs one job at a time, and a job
	// that finds them all busy waits for one (within DecodeTimeout). Default: GOMAXPROCS
	// at New.
	Workers int
	// JobsPerWorker is the number of jobs after which a worker is replaced by a fresh one.
	// Default 100.
	JobsPerWorker int
	// WorkerPath is the program started as a worker; its main must call
	// RunWorkerIfRequested first. Default: this program (on Linux /proc/self/exe, the very
	// binary that is running even if the file was since replaced; elsewhere
	// os.Executable).
	WorkerPath string
	// WorkerProcs is each worker's GOMAXPROCS. Default 2, so the garbage collector has a
	// thread beside the decoder.
	WorkerProcs int
	// MemoryLimit is the memory one worker may use for a job, in bytes: its Go heap limit
	// (GOMEMLIMIT) and, on Linux, how far its address space and data segment may grow
	// beyond their size at start, plus 512 MiB of headroom (RLIMIT_AS, RLIMIT_DATA). A
	// worker that goes past it dies, and its job fails with ErrCorrupt. Default:
	// Limits.MemoryBudget + 2×Limits.MaxBytes + 64 MiB, which no job the budget admits
	// needs; at least 64 MiB.
	MemoryLimit int64
	// CPUTime is the CPU time one worker may use over its whole life (RLIMIT_CPU, in
	// whole seconds rounded up); reaching it kills the worker. Jobs are stopped at their
	// deadline long before; this is the backstop should the host fail to. Default:
	// 2 × JobsPerWorker × DecodeTimeout.
	CPUTime time.Duration
	// RequireLandlock makes New fail, and every worker refuse to serve, unless Landlock
	// restricts both the filesystem and TCP (Linux 6.7 or later). By default confinement
	// is best effort: what the kernel cannot enforce is logged once at Warn.
	RequireLandlock bool
	// Stderr receives what workers write to their standard error (the Go runtime's crash
	// reports, whose panic values may quote input bytes), at most 64 KiB per worker.
	// Default: discarded.
	Stderr io.Writer

	// testEnv is added to the workers' environment; tests use it to reach the worker-side
	// seams of workerOptions (see testNoLandlockEnv).
	testEnv []string
	// testPrepare makes the workers prepare the wazero codecs even in a test binary (see
	// prepareCodecs).
	testPrepare bool
}

// testNoLandlockEnv, set to "1" in a worker whose workerOptions.testSkipsLandlock is set
// (only a test binary's are), makes it confine itself without Landlock, as on a kernel
// without it. RunWorkerIfRequested ignores it.
const testNoLandlockEnv = "FASTIMAGECACHE_TEST_NO_LANDLOCK"

// WithIsolation runs every decode, resize and encode of untrusted bytes (the render of
// Cache.Get, the proving decode of Cache.Put and Cache.Fetch) in a pool of confined worker
// processes instead of in this one. The program must call [RunWorkerIfRequested] first
// thing in main. New starts the first worker, and fails if it cannot (on systems other
// than Unix, always); Close stops them all.
//
// Errors keep their meaning: a deadline or a cancelled context kills the worker (its
// whole process group) and returns the context's error; a worker that dies for any other
// reason (panic, memory limit, signal, exit) or answers anything but a well-formed
// rendition of the size asked for fails only the call it was serving, with ErrCorrupt,
// and is replaced. When no worker can be started, the call fails with ErrBusy and the
// cause is logged at Error. The memory budget is reserved around each worker job as
// around an in-process decode, plus, for a render, the most its answer may weigh. A
// rendition is served only in the exact container layout our encoder writes (no metadata
// chunks, segments or blocks, nothing after the end marker); the README's "Isolated
// decoding" says what the workers' confinement denies, with and without Landlock.
func WithIsolation(ic IsolationConfig) Option {
	return optionFunc(func(c *config) { c.isolation = &ic })
}

// RunWorkerIfRequested turns the process into a decode worker, and never returns, when a
// Cache opened with [WithIsolation] started it as one (the environment variable
// FASTIMAGECACHE_WORKER is "1"); otherwise it returns at once and does nothing.
//
// Call it first thing in main, before flags are parsed or anything is opened or started:
// a worker is this program run again, with no arguments, an empty environment but for
// that variable, GOMAXPROCS, GOMEMLIMIT and FASTIMAGECACHE_WORKER_PREPARE (which makes it
// compile the AVIF and HEIC codecs before it confines itself), only stdin and stdout
// (stderr discarded unless IsolationConfig.Stderr is set), "/" as working directory and a
// process group of its own. Package init functions run before main, and so run in the worker before it is
// confined: keep them free of side effects, or point IsolationConfig.WorkerPath at a small
// program whose main calls only this. A test binary calls it from TestMain.
func RunWorkerIfRequested() { runWorkerIfRequested(workerOptions{}) }

// workerOptions are test seams of the worker side; all nil in production.
type workerOptions struct {
	// fault runs before each job; when it returns true, its Response is sent instead of
	// the job's. It may also write to out itself, or never return.
	fault func(ctx context.Context, q *workerproto.Request, out io.Writer) (*workerproto.Response, bool)
	// testSkipsLandlock lets testNoLandlockEnv leave Landlock out of the confinement.
	testSkipsLandlock bool
	// jobStart runs in a job once its memory limit is set, before it decodes.
	jobStart func()
}

func runWorkerIfRequested(opts workerOptions) {
	if os.Getenv(workerEnv) != "1" {
		return
	}
	out, err := protocolOut()
	if err != nil {
		fmt.Fprintf(os.Stderr, "fastimagecache worker: protocol pipe: %v\n", err)
		os.Exit(2)
	}
	os.Exit(serveWorker(os.Stdin, out, os.Stderr, opts))
}

// serveWorker is a worker's life: setup, confinement, hello, then jobs until in ends. It
// returns the process's exit code, and says why it failed on errOut.
func serveWorker(in io.Reader, out, errOut io.Writer, opts workerOptions) int {
	r := bufio.NewReaderSize(in, 64<<10)
	setup, err := workerproto.ReadSetup(r)
	if err != nil {
		fmt.Fprintf(errOut, "fastimagecache worker: read setup: %v\n", err)
		return 2
	}
	debug.SetMemoryLimit(setup.MemoryLimit)
	// The wazero codecs compile to executable memory, which the filter refuses once in
	// force: compile them now, before any untrusted byte (see codec.Prepare).
	var prepErr error
	if os.Getenv(workerPrepareEnv) == "1" {
		prepErr = codec.Prepare()
		debug.FreeOSMemory() // the compiler's garbage
	}
	rep, err := sandbox.Restrict(sandbox.Limits{
		MemoryBytes:  setup.MemoryLimit,
		CPUSeconds:   uint64(math.Ceil(setup.CPUTime.Seconds())),
		OpenFiles:    workerOpenFiles,
		SkipLandlock: opts.testSkipsLandlock && os.Getenv(testNoLandlockEnv) == "1",
	})
	if prepErr != nil {
		rep.Warnings = append(rep.Warnings, "codecs unavailable: "+prepErr.Error())
	}
	hello := workerproto.Hello{Version: workerproto.Version, Landlock: int64(rep.Landlock), Warnings: strings.Join(rep.Warnings, "; ")}
	switch {
	case err != nil:
		hello.Error = "confine: " + err.Error()
	case setup.RequireLandlock && rep.Landlock < 4:
		hello.Error = fmt.Sprintf("Landlock required, but the kernel enforces ABI %d (files and TCP need 4)", rep.Landlock)
	}
	if err := workerproto.WriteHello(out, hello); err != nil || hello.Error != "" {
		return 2
	}
	for {
		q, err := workerproto.ReadRequest(r, setup.MaxRequest)
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(errOut, "fastimagecache worker: read request: %v\n", err)
			return 2
		}
		if err := workerproto.WriteAck(out, q.Seq); err != nil {
			return 2
		}
		resp := runJob(q, out, setup.MemoryLimit, opts)
		resp.Seq = q.Seq
		if err := workerproto.WriteResponse(out, resp); err != nil {
			return 2
		}
		if resp.Retire {
			return 0
		}
		trimWorkerMemory()
	}
}

// runJob runs one job in the worker: the same inspect, decodeImage and render as in
// process, on the bytes and spec the host sent. A panic is answered as Corrupt, and the
// worker then retires.
func runJob(q *workerproto.Request, out io.Writer, memLimit int64, opts workerOptions) (resp *workerproto.Response) {
	ctx, cancel := context.WithTimeout(context.Background(), q.Timeout)
	defer cancel()
	defer debug.SetMemoryLimit(memLimit) // the job's own limit (below) ends with it
	defer func() {
		if p := recover(); p != nil {
			resp = &workerproto.Response{Code: workerproto.Corrupt, Message: "decoder panicked", Retire: true}
		}
	}()
	if opts.fault != nil {
		if r, ok := opts.fault(ctx, q, out); ok {
			return r
		}
	}
	lim, err := limitsFromProto(q.Limits)
	if err != nil {
		return failure(ctx, err)
	}
	h, err := inspect(q.Data, putConfig{}, lim)
	if err != nil {
		return failure(ctx, err)
	}
	// While the job runs, the runtime's soft limit is what the host reserved for it (the
	// same estimate, from the same header) plus room for the runtime itself: the garbage
	// of this job and the last is collected before the worker's heap passes it, so the
	// workers together stay near the budget rather than each near its own hard limit.
	need := putBytes(h, len(q.Data))
	if q.Kind != workerproto.KindProve {
		need = renderBytes(h, specFromProto(q.Spec)) + int64(len(q.Data)) + decodeOverhead
	}
	debug.SetMemoryLimit(min(memLimit, need+workerJobHeadroom))
	if opts.jobStart != nil {
		opts.jobStart()
	}
	if q.Kind == workerproto.KindProve {
		dec, err := decodeImage(ctx, q.Data, h, proveOpts)
		if err != nil {
			return failure(ctx, err)
		}
		ph, err := placeholderOf(dec.img, h.orientation)
		if err != nil {
			return failure(ctx, err)
		}
		return &workerproto.Response{Code: workerproto.OK, Placeholder: ph.hash, Color: ph.color}
	}
	r, err := render(ctx, q.Data, h, specFromProto(q.Spec))
	if err != nil {
		return failure(ctx, err)
	}
	return &workerproto.Response{Code: workerproto.OK, Format: string(r.format), Width: int64(r.width), Height: int64(r.height), Data: r.data}
}

// failure answers a job that failed with err; once the job's context is done, any failure
// is the deadline, as in process (Cache.safely).
func failure(ctx context.Context, err error) *workerproto.Response {
	code := workerproto.Internal
	switch {
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		code = workerproto.Deadline
	case errors.Is(err, ErrTooLarge):
		code = workerproto.TooLarge
	case errors.Is(err, ErrUnsupportedFormat):
		code = workerproto.UnsupportedFormat
	case errors.Is(err, ErrDimensions):
		code = workerproto.Dimensions
	case errors.Is(err, ErrCorrupt):
		code = workerproto.Corrupt
	case errors.Is(err, ErrInvalidSpec):
		code = workerproto.InvalidSpec
	}
	return &workerproto.Response{Code: code, Message: err.Error()}
}

// trimWorkerMemory returns memory to the system when a job left more than
// workerRetainBytes mapped, so that idle workers do not each hold their largest job's heap.
func trimWorkerMemory() {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 && s[1].Value.Kind() == metrics.KindUint64 &&
		s[0].Value.Uint64()-s[1].Value.Uint64() > workerRetainBytes {
		debug.FreeOSMemory()
	}
}

// renderImage renders data (inspected as h) under the canonical spec s: in a worker when
// the Cache isolates decoding, in this process otherwise.
func (c *Cache) renderImage(ctx context.Context, data []byte, h header, s Spec) (out rendered, err error) {
	ctx, ob := c.begin(ctx, OpRender)
	defer func() {
		if p := recover(); p != nil { // safely recovers it into ErrCorrupt
			ob.done(ErrCorrupt, Outcome{Format: h.format, Output: s.Format})
			panic(p)
		}
		ob.done(err, Outcome{Format: h.format, Output: s.Format})
	}()
	if c.iso == nil {
		return render(c.renderSlot(ctx), data, h, s)
	}
	return c.iso.render(ctx, data, h, s)
}

// proveImage decodes data (inspected as h) in full to prove it sound, and computes its
// placeholder: in a worker when the Cache isolates decoding, which keeps the pixels, in
// this process otherwise, where they are returned for eager renditions.
func (c *Cache) proveImage(ctx context.Context, data []byte, h header) (decoded, placeholder, error) {
	if c.iso == nil {
		dec, err := decodeImage(ctx, data, h, proveOpts)
		if err != nil {
			return decoded{}, placeholder{}, err
		}
		ph, err := placeholderOf(dec.img, h.orientation)
		return dec, ph, err
	}
	ph, err := c.iso.prove(ctx, data, h)
	return decoded{}, ph, err
}

// isolator runs one Cache's render and proving jobs on its worker pool, and checks their
// answers.
type isolator struct {
	// prepared: the workers compile the wazero codecs before confinement, outside any job.
	prepared bool
	pool     *sandbox.Pool
	lim      Limits
	limit    workerproto.Limits // lim, as requests carry it
}

// startIsolation starts the worker pool configured by WithIsolation; without it, it
// returns nil, and decoding stays in process.
func startIsolation(cfg config, lim Limits) (*isolator, error) {
	if cfg.isolation == nil {
		return nil, nil
	}
	ic := *cfg.isolation
	if os.Getenv(workerEnv) == "1" {
		// A worker got as far as New: its main does not call RunWorkerIfRequested. Starting
		// workers from here would start this program again, and again.
		return nil, errors.New("fastimagecache: New with WithIsolation in a worker process: main must call RunWorkerIfRequested first")
	}
	if ic.Workers < 0 || ic.JobsPerWorker < 0 || ic.WorkerProcs < 0 || ic.MemoryLimit < 0 || ic.CPUTime < 0 {
		return nil, fmt.Errorf("fastimagecache: negative field in IsolationConfig %+v", ic)
	}
	setDefault(&ic.Workers, runtime.GOMAXPROCS(0))
	setDefault(&ic.JobsPerWorker, defaultJobsPerWorker)
	setDefault(&ic.WorkerProcs, defaultWorkerProcs)
	setDefault(&ic.MemoryLimit, lim.MemoryBudget+2*lim.MaxBytes+64<<20)
	ic.MemoryLimit = max(ic.MemoryLimit, minWorkerMemory)
	setDefault(&ic.CPUTime, 2*time.Duration(ic.JobsPerWorker)*lim.DecodeTimeout)
	if ic.WorkerPath == "" {
		var err error
		if ic.WorkerPath, err = sandbox.SelfPath(); err != nil {
			return nil, fmt.Errorf("fastimagecache: find this program for its workers: %w", err)
		}
	}
	env := []string{
		workerEnv + "=1",
		"GOMAXPROCS=" + strconv.Itoa(ic.WorkerProcs),
		"GOMEMLIMIT=" + strconv.FormatInt(ic.MemoryLimit, 10),
	}
	var startTimeout time.Duration // the pool's default
	prepared := (prepareCodecs || ic.testPrepare) && codec.Check() == nil
	if prepared {
		env = append(env, workerPrepareEnv+"=1")
		startTimeout = 10*time.Second + workerPrepareTime
		if sandbox.RaceEnabled {
			startTimeout = 10*time.Second + 5*workerPrepareTime
		}
	}
	pool, err := sandbox.NewPool(sandbox.PoolConfig{
		Path:          ic.WorkerPath,
		Name:          "fastimagecache-worker",
		Env:           append(env, ic.testEnv...),
		StartTimeout:  startTimeout,
		Workers:       ic.Workers,
		JobsPerWorker: ic.JobsPerWorker,
		Setup: workerproto.Setup{
			Version:         workerproto.Version,
			MemoryLimit:     ic.MemoryLimit,
			CPUTime:         ic.CPUTime,
			MaxRequest:      lim.MaxBytes + workerproto.RequestOverhead,
			RequireLandlock: ic.RequireLandlock,
		},
		Stderr:      ic.Stderr,
		StderrBytes: workerStderrBytes,
		Logger:      cfg.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("fastimagecache: start decode workers: %w", err)
	}
	return &isolator{prepared: prepared, pool: pool, lim: lim, limit: limitsToProto(lim)}, nil
}

// close stops the workers; nil is a no-op.
func (p *isolator) close() {
	if p != nil {
		p.pool.Close()
	}
}

// render runs a render job and checks what comes back.
func (p *isolator) render(ctx context.Context, data []byte, h header, s Spec) (rendered, error) {
	q := p.request(ctx, workerproto.KindRender, data)
	q.Spec = specToProto(s)
	resp, err := p.do(ctx, q, p.maxAnswer(h, s))
	if err != nil {
		return rendered{}, err
	}
	return checkRendition(resp, h, s)
}

// prove runs a proving decode.
func (p *isolator) prove(ctx context.Context, data []byte, h header) (placeholder, error) {
	resp, err := p.do(ctx, p.request(ctx, workerproto.KindProve, data), workerproto.ResponseOverhead)
	if err != nil {
		return placeholder{}, err
	}
	if len(resp.Data) != 0 || resp.Width != 0 || resp.Height != 0 || resp.Format != "" {
		return placeholder{}, fmt.Errorf("decode worker answered a proving decode of %s with a rendition: %w", h.format, ErrCorrupt)
	}
	if resp.Placeholder == "" || !validPlaceholder(resp.Placeholder, resp.Color) {
		return placeholder{}, fmt.Errorf("decode worker answered a proving decode of %s with a malformed placeholder: %w", h.format, ErrCorrupt)
	}
	return placeholder{hash: resp.Placeholder, color: resp.Color}, nil
}

// request builds a job for data. Its timeout is what is left of ctx (DecodeTimeout at
// most), less a little, so that a decoder that honours its context answers before the
// host gives up and kills the worker.
func (p *isolator) request(ctx context.Context, kind workerproto.Kind, data []byte) *workerproto.Request {
	timeout := p.lim.DecodeTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	timeout -= min(timeout/10, 250*time.Millisecond)
	return &workerproto.Request{Kind: kind, Timeout: max(timeout, time.Millisecond), Limits: p.limit, Data: data}
}

// do runs q on a worker and maps the outcome onto this package's errors: the worker's own
// failure codes back to the sentinels, a worker that died or misbehaved to ErrCorrupt, no
// worker to start to ErrBusy.
func (p *isolator) do(ctx context.Context, q *workerproto.Request, maxResp int64) (*workerproto.Response, error) {
	resp, err := p.pool.Do(ctx, q, maxResp)
	switch {
	case err == nil && resp.Code == workerproto.OK:
		return resp, nil
	case err == nil:
		return nil, workerErr(resp)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("decode worker: %w", ctx.Err())
	case errors.Is(err, sandbox.ErrClosed):
		return nil, ErrClosed
	case errors.Is(err, sandbox.ErrStart):
		return nil, fmt.Errorf("no decode worker: %w", ErrBusy)
	}
	return nil, fmt.Errorf("decode %w: %w", err, ErrCorrupt)
}

func specToProto(s Spec) workerproto.Spec {
	return workerproto.Spec{Width: int64(s.Width), Height: int64(s.Height), Fit: int64(s.Fit), Format: string(s.Format), Quality: int64(s.Quality), Enlarge: s.Enlarge,
		Gravity: int64(s.Gravity), Focus: [2]int64{int64(permille(s.FocusX)), int64(permille(s.FocusY))}}
}

func specFromProto(s workerproto.Spec) Spec {
	return Spec{Width: int(s.Width), Height: int(s.Height), Fit: Fit(s.Fit), Format: Format(s.Format), Quality: int(s.Quality), Enlarge: s.Enlarge,
		Gravity: Gravity(s.Gravity), FocusX: float64(s.Focus[0]) / 1000, FocusY: float64(s.Focus[1]) / 1000}
}

func limitsToProto(l Limits) workerproto.Limits {
	p := workerproto.Limits{
		MaxBytes: l.MaxBytes, MaxWidth: int64(l.MaxWidth), MaxHeight: int64(l.MaxHeight), MaxPixels: l.MaxPixels,
		MaxFrames: int64(l.MaxFrames), MaxTotalPixels: l.MaxTotalPixels,
	}
	for _, f := range l.Formats {
		p.Formats = append(p.Formats, string(f))
	}
	return p
}

// limitsFromProto rebuilds the host's limits in the worker, refusing what the host could
// not have sent.
func limitsFromProto(p workerproto.Limits) (Limits, error) {
	for _, v := range []int64{p.MaxWidth, p.MaxHeight, p.MaxFrames} {
		if v > math.MaxInt32 {
			return Limits{}, fmt.Errorf("limit %d out of range: %w", v, ErrInvalidSpec)
		}
	}
	l := Limits{
		MaxBytes: p.MaxBytes, MaxWidth: int(p.MaxWidth), MaxHeight: int(p.MaxHeight), MaxPixels: p.MaxPixels,
		MaxFrames: int(p.MaxFrames), MaxTotalPixels: p.MaxTotalPixels,
	}
	for _, f := range p.Formats {
		l.Formats = append(l.Formats, Format(f))
	}
	return l.withDefaults()
}
