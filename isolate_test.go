//go:build linux

package fastimagecache

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/sandbox"
	"github.com/fastimagecache/fastimagecache/internal/workerproto"
)

// TestMain makes the test binary a decode worker when a Cache opened WithIsolation starts
// it as one. Such a worker honours the fault markers of injectFault; a worker started by a
// program through RunWorkerIfRequested has no fault hook at all.
func TestMain(m *testing.M) {
	runWorkerIfRequested(workerOptions{fault: injectFault, testSkipsLandlock: true})
	prepareCodecs = false
	os.Exit(m.Run())
}

// isoMarker starts a fault marker: "fic-fault:KIND:FAULT:ARG;" anywhere in an input, where
// KIND is "render", "prove" or "any" (the jobs it applies to).
const isoMarker = "fic-fault:"

// isoFaulty returns a sound 64×64 PNG with a fault marker appended after its IEND, where
// the host's header checks and the decoders ignore it.
func isoFaulty(kind, fault, arg string) []byte {
	return fixture.AppendText(fixture.PNG(64, 64), isoMarker+kind+":"+fault+":"+arg+";")
}

// injectFault is the worker's test hook: it plays a decoder that a hostile input took
// over, when the input carries a marker for this kind of job.
func injectFault(ctx context.Context, q *workerproto.Request, out io.Writer) (*workerproto.Response, bool) {
	i := bytes.Index(q.Data, []byte(isoMarker))
	if i < 0 {
		return nil, false
	}
	marker, _, ok := bytes.Cut(q.Data[i+len(isoMarker):], []byte(";"))
	f := strings.SplitN(string(marker), ":", 3)
	if !ok || len(f) != 3 {
		return nil, false
	}
	kind, fault, arg := f[0], f[1], f[2]
	if kind == "render" && q.Kind != workerproto.KindRender || kind == "prove" && q.Kind != workerproto.KindProve {
		return nil, false
	}
	corrupt := func(msg string) (*workerproto.Response, bool) {
		return &workerproto.Response{Code: workerproto.Corrupt, Message: msg}, true
	}
	rendition := func(format string, w, h int64, data []byte) (*workerproto.Response, bool) {
		return &workerproto.Response{Code: workerproto.OK, Format: format, Width: w, Height: h, Data: data}, true
	}
	switch fault {
	case "stdout": // what a codec's WebAssembly module printing to its stdout does
		fmt.Fprint(os.Stdout, "\x00\x00\x00\x10garbage from a codec")
		return nil, false
	case "panic": // recovered in the worker, which answers and retires
		panic("injected decoder panic")
	case "crash": // an unrecovered panic: the runtime exits with status 2
		go func() { panic("injected crash") }()
		select {}
	case "exit":
		os.Exit(3)
	case "kill": // what the kernel's OOM killer does
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	case "alloc": // allocate and touch memory without bound, keeping all of it
		type block struct {
			data [32 << 20]byte
			prev *block
		}
		var last *block
		for {
			b := &block{prev: last}
			for j := 0; j < len(b.data); j += 4096 {
				b.data[j] = 1
			}
			last = b
		}
	case "spin": // burn CPU, deaf to the job's deadline
		fmt.Fprintln(os.Stderr, "fic-spinning")
		for time.Now().After(time.Time{}) {
		}
	case "fork": // leave a child behind in the worker's process group, then spin
		pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if errno != 0 {
			return corrupt("fork: " + errno.Error())
		}
		if pid == 0 { // the child: one thread, raw system calls only
			for {
				syscall.RawSyscall6(unix.SYS_PPOLL, 0, 0, 0, 0, 0, 0)
			}
		}
		fmt.Fprintf(os.Stderr, "fic-child=%d\n", pid)
		for time.Now().After(time.Time{}) {
		}
	case "escape": // everything a taken-over decoder might try
		var report []string
		try := func(what string, err error) { report = append(report, fmt.Sprintf("%s: %v", what, err)) }
		_, err := os.ReadFile("/etc/passwd")
		try("open", err)
		err = os.WriteFile("/tmp/fic-escape", []byte("x"), 0o600)
		try("create", err)
		_, err = syscall.ForkExec("/bin/true", []string{"true"}, nil)
		try("exec", err)
		try("signal", syscall.Kill(os.Getppid(), 0))
		conn, err := net.DialTimeout("tcp", arg, 2*time.Second)
		if conn != nil {
			conn.Close()
		}
		try("dial", err)
		return corrupt(strings.Join(report, "; "))
	case "introspect": // what the worker was given
		var core, fsize, nofile unix.Rlimit
		_ = unix.Getrlimit(unix.RLIMIT_CORE, &core)
		_ = unix.Getrlimit(unix.RLIMIT_FSIZE, &fsize)
		_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile)
		wd, _ := os.Getwd()
		return corrupt(fmt.Sprintf("env=%s|wd=%s|core=%d|fsize=%d|nofile=%d|pgid=%d",
			strings.Join(os.Environ(), ","), wd, core.Max, fsize.Max, nofile.Max, syscall.Getpgrp()))
	case "lie": // a real PNG, but not the size claimed
		return rendition("png", 1, 1, isoPNG(20, 20))
	case "oversize": // honest about its size, but larger than the spec's box
		return rendition("png", 64, 64, isoPNG(64, 64))
	case "wrongformat":
		return rendition("jpeg", 20, 20, isoPNG(20, 20))
	case "garbage":
		return rendition("png", 20, 20, []byte("<html><script>alert(1)</script></html>"))
	case "flood": // announce a 4 GiB response, send nothing more
		_, _ = out.Write([]byte{0xff, 0xff, 0xff, 0xff, 'R'})
		select {}
	case "wrongseq": // answer another job
		_ = workerproto.WriteResponse(out, &workerproto.Response{Seq: q.Seq + 1, Code: workerproto.OK})
		select {}
	case "proverendition": // answer a proving decode with pixels
		return rendition("png", 20, 20, isoPNG(20, 20))
	case "smuggle": // a rendition of the right size, with a payload our encoder never writes
		format, data := smuggled(arg)
		return rendition(format, 20, 20, data)
	case "syscalls": // the calls the seccomp filter denies, and those the runtime needs
		return corrupt(trySyscalls())
	case "codec": // a WebAssembly codec's encode (and decode) in the confined worker
		return corrupt(tryCodec(arg))
	}
	return nil, false
}

// isoPNG encodes a w×h gray PNG.
func isoPNG(w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// Deadlines of the isolation tests. Only the tests about deadlines use a short one, long
// enough for a sound job on a loaded machine; every other test gives jobs a minute, so
// that load never turns its outcome into a deadline.
const isoPatience = time.Minute

func isoShort() time.Duration {
	if sandbox.RaceEnabled {
		return 8 * time.Second
	}
	return 3 * time.Second
}

// isoLimits are the limits of most isolation tests: every format, a patient deadline.
var isoLimits = Limits{DecodeTimeout: isoPatience, Formats: []Format{JPEG, PNG, GIF, WebP, BMP, TIFF}}

// isoCache opens an isolated Cache that the test closes; its limits are isoLimits unless
// opts say otherwise.
func isoCache(t testing.TB, ic IsolationConfig, opts ...Option) *Cache {
	t.Helper()
	c := newTestCache(t, append([]Option{WithLimits(isoLimits), WithIsolation(ic)}, opts...)...)
	require.NotNil(t, c.iso)
	return c
}

// isoSpecs hands out specs no earlier Get asked for, so each Get renders.
var isoSpecs atomic.Int64

func isoFreshSpec() Spec { return Spec{Width: 8 + int(isoSpecs.Add(1)%40), Height: 24} }

// isoServes checks that c still renders: a cold Get of a sound image, through a worker.
func isoServes(t *testing.T, c *Cache) {
	t.Helper()
	info := put(t, c, fixture.PNG(64, 48))
	answered := c.iso.pool.Answered()
	r, err := c.Get(t.Context(), info.ID, isoFreshSpec())
	require.NoError(t, err, "a normal Get after the fault")
	readRendition(t, r)
	assert.Greater(t, c.iso.pool.Answered(), answered, "the render ran in a worker")
}

// isoStderr collects the workers' standard error and calls onLine for each line.
type isoStderr struct {
	mu     sync.Mutex // guards buf and onLine
	buf    bytes.Buffer
	onLine func(string)
}

func (s *isoStderr) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(b)
	for {
		line, err := s.buf.ReadString('\n')
		if err != nil {
			s.buf.Reset()
			s.buf.WriteString(line)
			return len(b), nil
		}
		if s.onLine != nil {
			s.onLine(strings.TrimSuffix(line, "\n"))
		}
	}
}

func TestIsolatedRendersLikeInProcess(t *testing.T) {
	local := newTestCache(t, WithLimits(isoLimits))
	iso := isoCache(t, IsolationConfig{Workers: 2})
	for _, tc := range []struct {
		name string
		in   []byte
		spec Spec
	}{
		{"jpeg cover", fixture.JPEG(640, 480, 90), Spec{Width: 100, Height: 100, Fit: Cover}},
		{"jpeg cover, focal point", fixture.JPEG(640, 480, 90), Spec{Width: 100, Height: 100, Fit: Cover, FocusX: 0.9, FocusY: 0.2}},
		{"png cover, gravity", fixture.PNG(300, 200), Spec{Width: 50, Height: 100, Fit: Cover, Gravity: East}},
		{"jpeg cover, smart", fixture.JPEG(640, 480, 90), Spec{Width: 100, Height: 100, Fit: Cover, Gravity: Smart}},
		{"jpeg exif orientation 6", fixture.WithEXIFOrientation(fixture.JPEGQuadrants(64, 48), 6), Spec{Width: 40}},
		{"png with alpha to jpeg", fixture.PNG(300, 200), Spec{Width: 120, Format: JPEG, Quality: 70}},
		{"animated gif", fixture.GIF(80, 60, 5), Spec{Width: 40}},
		{"webp", fixture.WebPLossless(64, 64, color.NRGBA{R: 255, A: 255}), Spec{Width: 32}},
		{"bmp full size", fixture.BMP(50, 40), Spec{}},
		{"tiff", fixture.TIFF(64, 64), Spec{Height: 16}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := put(t, local, tc.in)
			b := put(t, iso, tc.in)
			require.Equal(t, a, b)
			answered := iso.iso.pool.Answered()
			ra, err := local.Get(t.Context(), a.ID, tc.spec)
			require.NoError(t, err)
			rb, err := iso.Get(t.Context(), b.ID, tc.spec)
			require.NoError(t, err)
			assert.Equal(t, ra.ContentType, rb.ContentType)
			assert.Equal(t, [2]int{ra.Width, ra.Height}, [2]int{rb.Width, rb.Height})
			assert.Equal(t, readRendition(t, ra), readRendition(t, rb), "the same code renders the same bytes in a worker")
			assert.Equal(t, answered+1, iso.iso.pool.Answered(), "rendered by a worker")
		})
	}
}

func TestIsolatedEagerRenditions(t *testing.T) {
	// A worker keeps the proving decode's pixels to itself: each eager rendition is rendered
	// by a worker of its own, with the bytes an in-process Get makes.
	specs := []Spec{{Width: 50}, {Width: 90, Height: 90, Fit: Cover}}
	iso := isoCache(t, IsolationConfig{Workers: 2}, WithEagerRenditions(specs...))
	local := newTestCache(t, WithLimits(isoLimits))
	in := fixture.JPEG(1600, 1200, 90)
	answered := iso.iso.pool.Answered()
	info := put(t, iso, in)
	assert.Equal(t, answered+1+int64(len(specs)), iso.iso.pool.Answered(), "the proof and each rendition ran in a worker")
	put(t, local, in)
	misses := 0
	iso.hooks.getMiss = func() { misses++ }
	for _, s := range specs {
		rb, err := iso.Get(t.Context(), info.ID, s)
		require.NoError(t, err)
		ra, err := local.Get(t.Context(), info.ID, s)
		require.NoError(t, err)
		assert.Equal(t, readRendition(t, ra), readRendition(t, rb))
	}
	assert.Zero(t, misses, "the first Gets were hits")
}

// TestIsolatedFaults runs each fault a taken-over decoder can cause in a worker, in a
// render and in a proving decode: the call fails with the sentinel, and the Cache serves
// normally right after.
func TestIsolatedFaults(t *testing.T) {
	patient := isoCache(t, IsolationConfig{Workers: 2, MemoryLimit: 64 << 20})
	short := isoCache(t, IsolationConfig{Workers: 2}, WithLimits(Limits{DecodeTimeout: isoShort()}))
	for _, tc := range []struct {
		fault string
		want  error
	}{
		{"panic", ErrCorrupt},
		{"crash", ErrCorrupt},
		{"exit", ErrCorrupt},
		{"kill", ErrCorrupt},
		{"alloc", ErrCorrupt},
		{"spin", context.DeadlineExceeded},
	} {
		c := patient
		if tc.want == context.DeadlineExceeded {
			c = short
		}
		t.Run(tc.fault+" in render", func(t *testing.T) {
			info := put(t, c, isoFaulty("render", tc.fault, ""))
			start := time.Now()
			_, err := c.Get(t.Context(), info.ID, Spec{Width: 32, Height: 32})
			t.Logf("%v after %v", err, time.Since(start).Round(time.Millisecond))
			require.ErrorIs(t, err, tc.want)
			if tc.want != ErrCorrupt {
				assert.NotErrorIs(t, err, ErrCorrupt, "a deadline is not corrupt data")
			}
			isoServes(t, c)
		})
		t.Run(tc.fault+" in proving decode", func(t *testing.T) {
			data := isoFaulty("prove", tc.fault, "")
			_, err := c.Put(t.Context(), bytes.NewReader(data))
			t.Logf("%v", err)
			require.ErrorIs(t, err, tc.want)
			_, err = c.Stat(t.Context(), idOf(data))
			require.ErrorIs(t, err, ErrNotFound, "a refused input is not stored")
			isoServes(t, c)
		})
	}
	for _, c := range []*Cache{patient, short} {
		// An abandoned job keeps its budget until its worker is really gone.
		require.NoError(t, c.budget.waitIdle(t.Context()))
		assert.Equal(t, int64(0), c.budget.inUse.Load(), "every job's budget is back")
	}
}

// TestIsolatedDishonestWorker has a taken-over worker answer with something other than
// the rendition asked for; the host refuses each answer without decoding it.
func TestIsolatedDishonestWorker(t *testing.T) {
	c := isoCache(t, IsolationConfig{Workers: 1})
	for _, fault := range []string{"lie", "oversize", "wrongformat", "garbage", "flood", "wrongseq"} {
		t.Run(fault, func(t *testing.T) {
			info := put(t, c, isoFaulty("render", fault, ""))
			_, err := c.Get(t.Context(), info.ID, Spec{Width: 32, Height: 32})
			t.Logf("%v", err)
			require.ErrorIs(t, err, ErrCorrupt)
			isoServes(t, c)
		})
	}
	t.Run("rendition for a proving decode", func(t *testing.T) {
		_, err := c.Put(t.Context(), bytes.NewReader(isoFaulty("prove", "proverendition", "")))
		require.ErrorIs(t, err, ErrCorrupt)
	})
}

// TestIsolatedWorkerIsConfined has a worker try to read and write files, run a program,
// signal its host and connect to a listener the test owns: each attempt fails inside the
// worker, and the listener's first connection is the test's own.
func TestIsolatedWorkerIsConfined(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	firstBytes := make(chan string, 8)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			b := make([]byte, 1)
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _ := conn.Read(b)
			firstBytes <- string(b[:n])
			conn.Close()
		}
	}()

	c := isoCache(t, IsolationConfig{Workers: 1})
	info := put(t, c, isoFaulty("render", "escape", ln.Addr().String()))
	_, err = c.Get(t.Context(), info.ID, Spec{Width: 32, Height: 32})
	require.ErrorIs(t, err, ErrCorrupt)
	msg := err.Error()
	t.Logf("worker reports: %s", msg)
	for _, what := range []string{"open", "create", "exec", "signal", "dial"} {
		assert.Contains(t, msg, what+": ", "attempt reported")
		assert.NotContains(t, msg, what+": <nil>", "%s succeeded inside the worker", what)
	}
	assert.Contains(t, msg, "open: open /etc/passwd: operation not permitted", "seccomp refuses it before Landlock")
	_, err = os.Stat("/tmp/fic-escape")
	assert.ErrorIs(t, err, os.ErrNotExist, "the worker wrote a file")

	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	_, err = conn.Write([]byte("T"))
	require.NoError(t, err)
	conn.Close()
	assert.Equal(t, "T", <-firstBytes, "the listener's first connection must be the test's own")
	isoServes(t, c)
}

// TestIsolatedWorkerEnvironment checks what a worker is given: only its three variables,
// "/" as working directory, a process group of its own, no core files, no file writes,
// few file descriptors.
func TestIsolatedWorkerEnvironment(t *testing.T) {
	t.Setenv("FIC_SECRET_FOR_TEST", "must-not-leak")
	c := isoCache(t, IsolationConfig{Workers: 1, WorkerProcs: 3, MemoryLimit: 100 << 20})
	info := put(t, c, isoFaulty("render", "introspect", ""))
	_, err := c.Get(t.Context(), info.ID, Spec{Width: 32})
	require.ErrorIs(t, err, ErrCorrupt)
	msg := err.Error()
	t.Logf("%s", msg)
	env := msg[strings.Index(msg, "env=")+4:]
	env = env[:strings.Index(env, "|")]
	assert.ElementsMatch(t, []string{"FASTIMAGECACHE_WORKER=1", "GOMAXPROCS=3", "GOMEMLIMIT=" + strconv.Itoa(100<<20)}, strings.Split(env, ","))
	assert.Contains(t, msg, "|wd=/|core=0|fsize=0|nofile=16|")
	pgid, err := strconv.Atoi(strings.TrimSuffix(strings.Fields(msg[strings.Index(msg, "|pgid=")+6:])[0], ":"))
	require.NoError(t, err)
	assert.Contains(t, c.iso.pool.PIDs(), pgid, "the worker leads a process group of its own")
}

// TestIsolatedWorkerCannotFork has a worker try to fork a child that would outlive it:
// the seccomp filter refuses every clone that is not a thread, so a taken-over worker can
// neither multiply its memory limit over children nor leave one behind (its process group
// is killed at the deadline all the same).
func TestIsolatedWorkerCannotFork(t *testing.T) {
	stderr := &isoStderr{onLine: func(line string) {
		if strings.HasPrefix(line, "fic-child=") {
			t.Errorf("the worker forked: %s", line)
		}
	}}
	c := isoCache(t, IsolationConfig{Workers: 1, Stderr: stderr}, WithLimits(Limits{DecodeTimeout: isoShort()}))
	info := put(t, c, isoFaulty("render", "fork", ""))
	_, err := c.Get(t.Context(), info.ID, Spec{Width: 32})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "fork: operation not permitted")
	isoServes(t, c)
}

// TestIsolatedCancelKillsWorker cancels a Put while its worker spins in the proving
// decode. (A Get's render is shared by every caller and outlives any one of them, as in
// process; only DecodeTimeout ends it.)
func TestIsolatedCancelKillsWorker(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stderr := &isoStderr{onLine: func(line string) {
		if line == "fic-spinning" {
			cancel()
		}
	}}
	c := isoCache(t, IsolationConfig{Workers: 1, Stderr: stderr})
	failed := c.iso.pool.Failed()
	start := time.Now()
	_, err := c.Put(ctx, bytes.NewReader(isoFaulty("prove", "spin", "")))
	require.ErrorIs(t, err, context.Canceled, "cancelled, long before the minute of DecodeTimeout")
	assert.NotErrorIs(t, err, ErrCorrupt)
	t.Logf("cancelled after %v", time.Since(start).Round(time.Millisecond))
	assert.Equal(t, failed, c.iso.pool.Failed(), "a cancelled job is not a failed worker")
	isoServes(t, c)
}

// TestIsolatedFaultFailsOnlyItsCall crashes one worker while three others render: only
// the crashed call fails.
func TestIsolatedFaultFailsOnlyItsCall(t *testing.T) {
	c := isoCache(t, IsolationConfig{Workers: 4})
	var ids []ID
	for i := range 3 {
		ids = append(ids, put(t, c, fixture.PNG(200+i, 150)).ID)
	}
	bad := put(t, c, isoFaulty("render", "crash", "")).ID
	// Hold every job at the start of its decode until all four are there, so that all
	// four are in flight together.
	var arrived atomic.Int32
	together := make(chan struct{})
	c.hooks.decodeStart = func(ctx context.Context) {
		if arrived.Add(1) == 4 {
			close(together)
		}
		select {
		case <-together:
		case <-ctx.Done():
		}
	}
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i, id := range append(ids, bad) {
		wg.Go(func() {
			r, err := c.Get(t.Context(), id, Spec{Width: 64})
			if err == nil {
				_, err = io.ReadAll(r)
				r.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range 3 {
		assert.NoError(t, errs[i], "a call beside the crash")
	}
	assert.ErrorIs(t, errs[3], ErrCorrupt)
	st := c.Stats()
	assert.GreaterOrEqual(t, st.WorkersStarted, int64(4), "Stats counts the workers started")
	assert.Equal(t, int64(1), st.WorkersFailed, "Stats counts the crashed worker")
}

// TestIsolatedHostileInputs runs a subset of the hostile suite through isolated and
// in-process Caches side by side: the same outcomes, and the same rendition bytes.
func TestIsolatedHostileInputs(t *testing.T) {
	php := string(fixture.PHP())
	lim := isoLimits
	lim.MemoryBudget = 64 << 20
	local := newTestCache(t, WithLimits(lim))
	iso := isoCache(t, IsolationConfig{Workers: 2}, WithLimits(lim))
	half := func(b []byte) []byte { return fixture.Truncate(b, len(b)/2) }
	for _, tc := range []struct {
		name    string
		in      []byte
		want    error // nil: accepted
		payload string
	}{
		{"png truncated", half(fixture.PNG(64, 64)), ErrCorrupt, ""},
		{"png bomb 8000x8000", fixture.PNGBomb(8000, 8000), ErrDimensions, ""},
		{"png bomb 2000x2000 within budget", fixture.PNGBomb(2000, 2000), nil, ""},
		{"png+zip polyglot", fixture.AppendZIP(fixture.PNG(64, 64), "shell.php", php), nil, "<?php"},
		{"jpeg truncated", half(fixture.JPEG(64, 64, 90)), ErrCorrupt, ""},
		{"jpeg header without scans", fixture.JPEGHeader(1000, 1000), ErrCorrupt, ""},
		{"jpeg scan flood 5000 scans", fixture.JPEGScanFlood(512, 512, 5000), ErrDimensions, ""},
		{"jpeg scan flood at the cap", fixture.JPEGScanFlood(256, 256, 99), nil, ""},
		{"jpeg+html polyglot", fixture.AppendText(fixture.JPEG(64, 64, 90), string(fixture.HTML())), nil, "<script"},
		{"gif 10000 frames", fixture.GIFManyFrames(10000), ErrDimensions, ""},
		{"gif frame bomb 10 x 300x300", fixture.GIFFrameBomb(300, 300, 10), nil, ""},
		{"gif truncated", half(fixture.GIF(64, 64, 2)), ErrCorrupt, ""},
		{"gif+php polyglot", fixture.AppendText(fixture.GIF(64, 64, 2), php), nil, "<?php"},
		{"bmp header without pixels", fixture.BMPHeader(300, -300), ErrCorrupt, ""},
		{"webp truncated", half(fixture.WebPLossless(64, 64, color.NRGBA{R: 255, A: 255})), ErrCorrupt, ""},
		{"tiff ifd loop", fixture.TIFFIFDLoop(), ErrCorrupt, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, errLocal := local.Put(t.Context(), bytes.NewReader(tc.in))
			b, errIso := iso.Put(t.Context(), bytes.NewReader(tc.in))
			t.Logf("in process: %v; isolated: %v", orAcceptedErr(errLocal), orAcceptedErr(errIso))
			if tc.want != nil {
				require.ErrorIs(t, errLocal, tc.want)
				require.ErrorIs(t, errIso, tc.want)
				return
			}
			require.NoError(t, errLocal)
			require.NoError(t, errIso)
			require.Equal(t, a, b)
			spec := Spec{Width: 48, Height: 48}
			ra, err := local.Get(t.Context(), a.ID, spec)
			require.NoError(t, err)
			rb, err := iso.Get(t.Context(), b.ID, spec)
			require.NoError(t, err)
			outA, outB := readRendition(t, ra), readRendition(t, rb)
			assert.Equal(t, outA, outB)
			if tc.payload != "" {
				assert.NotContains(t, string(outB), tc.payload)
			}
		})
	}
	assert.Greater(t, iso.iso.pool.Answered(), int64(10), "the decodes ran in workers")
}

func orAcceptedErr(err error) any {
	if err == nil {
		return "accepted"
	}
	return err
}

// TestIsolatedRecyclesWorkers checks that a worker is replaced after JobsPerWorker jobs.
func TestIsolatedRecyclesWorkers(t *testing.T) {
	c := isoCache(t, IsolationConfig{Workers: 1, JobsPerWorker: 2})
	info := put(t, c, fixture.PNG(64, 64)) // job 1 of the first worker
	for range 5 {
		r, err := c.Get(t.Context(), info.ID, isoFreshSpec())
		require.NoError(t, err)
		readRendition(t, r)
	}
	assert.GreaterOrEqual(t, c.iso.pool.Started(), int64(3), "6 jobs, 2 per worker")
	assert.Equal(t, int64(6), c.iso.pool.Answered())
	assert.Equal(t, int64(0), c.iso.pool.Failed())
}

// TestIsolatedIdleWorkerDeath kills idle workers from outside: the pool notices and
// replaces them, and the next jobs are not blamed for it.
func TestIsolatedIdleWorkerDeath(t *testing.T) {
	c := isoCache(t, IsolationConfig{Workers: 2})
	isoServes(t, c)
	for _, pid := range c.iso.pool.PIDs() {
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	}
	for range 4 {
		isoServes(t, c)
	}
	assert.GreaterOrEqual(t, c.iso.pool.Started(), int64(3))
}

// TestIsolatedCloseStopsWorkers checks that Close leaves no worker behind.
func TestIsolatedCloseStopsWorkers(t *testing.T) {
	c, err := New(t.TempDir(), WithLimits(isoLimits), WithIsolation(IsolationConfig{Workers: 3}))
	require.NoError(t, err)
	info := put(t, c, fixture.PNG(64, 64))
	pids := c.iso.pool.PIDs()
	require.NotEmpty(t, pids)
	require.NoError(t, c.Close())
	for _, pid := range pids {
		assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "worker %d outlived Close", pid)
	}
	assert.Empty(t, c.iso.pool.PIDs())
	_, err = c.Get(t.Context(), info.ID, Spec{Width: 10})
	require.ErrorIs(t, err, ErrClosed)
}

// TestIsolatedWorkerStart checks that New fails, and says why, when the worker program
// does not speak the protocol, and refuses to start workers from a worker.
func TestIsolatedWorkerStart(t *testing.T) {
	for _, path := range []string{"/bin/true", "/bin/cat", "/nonexistent/worker"} {
		t.Run(path, func(t *testing.T) {
			_, err := New(t.TempDir(), WithIsolation(IsolationConfig{WorkerPath: path}))
			require.Error(t, err)
			t.Logf("%v", err)
		})
	}
	t.Run("in a worker", func(t *testing.T) {
		t.Setenv(workerEnv, "1")
		_, err := New(t.TempDir(), WithIsolation(IsolationConfig{}))
		require.ErrorContains(t, err, "RunWorkerIfRequested")
	})
	t.Run("negative field", func(t *testing.T) {
		_, err := New(t.TempDir(), WithIsolation(IsolationConfig{Workers: -1}))
		require.Error(t, err)
	})
}

// TestIsolatedRequireLandlock checks that a kernel with Landlock for files and TCP
// satisfies RequireLandlock.
func TestIsolatedRequireLandlock(t *testing.T) {
	c := isoCache(t, IsolationConfig{Workers: 1})
	if abi := c.iso.pool.Landlock(); abi < 4 {
		t.Skipf("kernel enforces Landlock ABI %d; RequireLandlock needs 4", abi)
	}
	strict := isoCache(t, IsolationConfig{Workers: 1, RequireLandlock: true})
	assert.GreaterOrEqual(t, strict.iso.pool.Landlock(), int64(4))
	isoServes(t, strict)
}

// TestWorkerRefusesGarbageSetup checks that a worker whose stdin does not start with a
// Setup answers nothing and exits with status 2, before any confinement or job.
func TestWorkerRefusesGarbageSetup(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, 2, serveWorker(strings.NewReader("GET / HTTP/1.1\r\n\r\n"), &out, &errOut, workerOptions{}))
	assert.Zero(t, out.Len(), "nothing answered")
	assert.Contains(t, errOut.String(), "frame too large")
}

func TestCheckRendition(t *testing.T) {
	h := header{format: PNG, width: 640, height: 480, orientation: 1}
	s := Spec{Width: 100, Height: 100, Format: PNG}
	ok := &workerproto.Response{Format: "png", Width: 100, Height: 75, Data: isoPNG(100, 75)}
	r, err := checkRendition(ok, h, s)
	require.NoError(t, err)
	assert.Equal(t, [2]int{100, 75}, [2]int{r.width, r.height})
	for name, resp := range map[string]*workerproto.Response{
		"over the box":         {Format: "png", Width: 101, Height: 75, Data: isoPNG(101, 75)},
		"claims another size":  {Format: "png", Width: 100, Height: 75, Data: isoPNG(50, 50)},
		"another format":       {Format: "gif", Width: 100, Height: 75, Data: isoPNG(100, 75)},
		"not an image":         {Format: "png", Width: 100, Height: 75, Data: []byte("<svg/>")},
		"empty":                {Format: "png", Width: 100, Height: 75},
		"zero size":            {Format: "png", Width: 0, Height: 0, Data: isoPNG(1, 1)[:8]},
		"format with no coder": {Format: "webp", Width: 100, Height: 75, Data: isoPNG(100, 75)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := checkRendition(resp, h, s)
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}
}

func TestWorkerErrMapsCodes(t *testing.T) {
	for code, want := range map[workerproto.Code]error{
		workerproto.Corrupt:           ErrCorrupt,
		workerproto.Dimensions:        ErrDimensions,
		workerproto.UnsupportedFormat: ErrUnsupportedFormat,
		workerproto.InvalidSpec:       ErrInvalidSpec,
		workerproto.TooLarge:          ErrTooLarge,
		workerproto.Deadline:          context.DeadlineExceeded,
	} {
		err := workerErr(&workerproto.Response{Code: code, Message: "x\x00\xff<script>"})
		assert.ErrorIs(t, err, want)
		assert.NotContains(t, err.Error(), "\x00")
	}
	err := failure(context.Background(), fmt.Errorf("decode: %w", &LimitError{What: "size", Width: 1, Height: 2, err: ErrDimensions}))
	assert.Equal(t, workerproto.Dimensions, err.Code)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Equal(t, workerproto.Deadline, failure(ctx, ErrCorrupt).Code, "after the deadline, any failure is the deadline")
}

// The benchmarks compare cold renders (each Get misses both tiers, renders and stores)
// of a 2000×1500 JPEG to 320×320, in process and in a worker. Besides wall time they
// report cpu-ms/op, the CPU time of this process and of its reaped children (the
// workers, reaped by the Close at the end) per Get, which a busy machine disturbs less;
// it includes one proving Put and, isolated, one worker start per 100 Gets.
func BenchmarkGetInProcess(b *testing.B) { benchmarkColdGet(b) }

func BenchmarkGetIsolated(b *testing.B) {
	benchmarkColdGet(b, WithIsolation(IsolationConfig{Workers: 1}))
}

func benchmarkColdGet(b *testing.B, opts ...Option) {
	src := fixture.JPEG(2000, 1500, 90)
	open := func() (*Cache, ID) {
		c, err := New(b.TempDir(), append([]Option{WithMemoryCache(-1)}, opts...)...)
		require.NoError(b, err)
		return c, put(b, c, src).ID
	}
	cpu := func() time.Duration {
		var self, children syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
		_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
		var d time.Duration
		for _, ru := range []syscall.Rusage{self, children} {
			d += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		return d
	}
	start := cpu()
	c, id := open()
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if i > 0 && i%100 == 0 { // 100 distinct specs per Cache
			b.StopTimer()
			require.NoError(b, c.Close())
			c, id = open()
			b.StartTimer()
		}
		r, err := c.Get(ctx, id, Spec{Width: 320, Height: 320, Fit: Cover, Quality: 1 + i%100})
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
	b.StopTimer()
	require.NoError(b, c.Close())
	b.ReportMetric(float64(cpu()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkGetIsolationOverhead alternates the two cold Gets of the benchmarks above, one
// in process and one isolated, so that both see the same machine load, and reports the
// median over iterations of each one's wall time and of their ratio.
func BenchmarkGetIsolationOverhead(b *testing.B) {
	src := fixture.JPEG(2000, 1500, 90)
	type side struct {
		opts []Option
		c    *Cache
		id   ID
		took []time.Duration
	}
	sides := []*side{{}, {opts: []Option{WithIsolation(IsolationConfig{Workers: 1})}}}
	open := func(s *side) {
		if s.c != nil {
			require.NoError(b, s.c.Close())
		}
		c, err := New(b.TempDir(), append([]Option{WithMemoryCache(-1)}, s.opts...)...)
		require.NoError(b, err)
		s.c, s.id = c, put(b, c, src).ID
	}
	for _, s := range sides {
		open(s)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		for _, s := range sides {
			if i > 0 && i%100 == 0 {
				b.StopTimer()
				open(s)
				b.StartTimer()
			}
			start := time.Now()
			r, err := s.c.Get(ctx, s.id, Spec{Width: 320, Height: 320, Fit: Cover, Quality: 1 + i%100})
			if err != nil {
				b.Fatal(err)
			}
			r.Close()
			s.took = append(s.took, time.Since(start))
		}
	}
	b.StopTimer()
	ratios := make([]float64, b.N)
	for i := range ratios {
		ratios[i] = float64(sides[1].took[i]) / float64(sides[0].took[i])
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	ms := func(d []time.Duration) []float64 {
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x) / float64(time.Millisecond)
		}
		return out
	}
	b.ReportMetric(median(ms(sides[0].took)), "inproc-ms")
	b.ReportMetric(median(ms(sides[1].took)), "isolated-ms")
	b.ReportMetric(100*(median(ratios)-1), "overhead-%")
	for _, s := range sides {
		require.NoError(b, s.c.Close())
	}
}

// ExampleRunWorkerIfRequested shows the first line of a program that opens a Cache with
// WithIsolation: in a worker it never returns; anywhere else it returns at once.
func ExampleRunWorkerIfRequested() {
	// func main() {
	RunWorkerIfRequested()
	fmt.Println("not a worker: the program goes on")
	// ... flags, fastimagecache.New(dir, fastimagecache.WithIsolation(...)), serve ...
	// }

	// Output: not a worker: the program goes on
}

func ExampleWithIsolation() {
	// main called RunWorkerIfRequested first (in this test binary, TestMain does).
	dir, err := os.MkdirTemp("", "fastimagecache-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	c, err := New(dir, WithIsolation(IsolationConfig{Workers: 2}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	info, err := c.Put(context.Background(), bytes.NewReader(fixture.PNG(200, 150)))
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := c.Get(context.Background(), info.ID, Spec{Width: 100, Height: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	fmt.Println(r.Width, r.Height, r.ContentType)
	// Output: 100 75 image/png
}
