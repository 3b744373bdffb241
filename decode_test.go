package fastimagecache

import (
	"bytes"
	"context"
	"image/color"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// spinUntil yields until cond holds; it replaces sleeps when a test waits for other
// goroutines to reach a state.
func spinUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		runtime.Gosched()
	}
}

// allocatedDuring returns the bytes the process allocated while fn ran. Used around a
// window where only one goroutine (a decoder) works, it tells whether that decoder built
// its pixel buffers: a bound by bytes, not by time.
func allocatedDuring(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// readCountingCtx ends after a given number of reads through it. ctxio checks Err before
// every Read and ReadByte, so Err's calls count the decoder's reads: with after = k, the
// context is done from the decoder's (k+1)-th read on, in the middle of the decode.
type readCountingCtx struct {
	context.Context
	after int64 // -1: never ends
	err   error
	calls atomic.Int64
}

func (c *readCountingCtx) Err() error {
	if n := c.calls.Add(1); c.after >= 0 && n > c.after {
		return c.err
	}
	return nil
}

// everyFormat is one small image of each input format, with its header.
func everyFormat(t *testing.T) map[string]struct {
	data []byte
	h    header
} {
	t.Helper()
	lim := DefaultLimits()
	lim.Formats = []Format{JPEG, PNG, GIF, WebP, BMP, TIFF}
	lim, err := lim.withDefaults()
	require.NoError(t, err)
	out := map[string]struct {
		data []byte
		h    header
	}{}
	for name, in := range map[string][]byte{
		"jpeg": fixture.JPEG(1024, 1024, 90),
		"png":  fixture.PNG(256, 256),
		"gif":  fixture.GIF(400, 400, 3),
		"webp": fixture.WebPLossless(128, 128, color.NRGBA{R: 200, A: 255}), // a solid colour: few reads
		"bmp":  fixture.BMP(128, 128),
		"tiff": fixture.TIFF(512, 512),
	} {
		h, err := inspect(in, putConfig{}, lim)
		require.NoError(t, err, name)
		out[name] = struct {
			data []byte
			h    header
		}{in, h}
	}
	return out
}

// stopsMidDecode decodes each format with a context that ends (with cause) halfway through
// the decoder's reads, and checks that the decoder then read once more, was refused, and
// stopped: no image, and an error that safely maps to the context's.
func stopsMidDecode(t *testing.T, cause error) {
	c := newTestCache(t)
	for name, in := range everyFormat(t) {
		t.Run(name, func(t *testing.T) {
			o := decodeOpts{allFrames: true, jpegScale: 1}
			full := &readCountingCtx{Context: t.Context(), after: -1}
			_, err := decodeImage(full, in.data, in.h, o)
			require.NoError(t, err)
			reads := full.calls.Load()
			require.GreaterOrEqual(t, reads, int64(4), "the decoder does not read through the context's reader")

			half := &readCountingCtx{Context: t.Context(), after: reads / 2, err: cause}
			var got decoded
			var readsDone int64
			err = c.safely(half, func(ctx context.Context) error {
				var err error
				got, err = decodeImage(ctx, in.data, in.h, o)
				readsDone = half.calls.Load()
				return err
			})
			require.ErrorIs(t, err, cause)
			require.NotErrorIs(t, err, ErrCorrupt)
			assert.Nil(t, got.img, "a decode stopped halfway returned an image")
			assert.Equal(t, reads/2+1, readsDone, "the decoder kept reading after its context ended (%d reads in all)", reads)
		})
	}
}

func TestDecodeCancelledStopsAtNextRead(t *testing.T) {
	// Cancelled before the decoder's first read: it fails there, so no pixel buffer is built.
	c := newTestCache(t)
	const w, h = 1000, 1000 // a 4 MB decode
	in := fixture.PNG(w, h)
	ctx, cancel := context.WithCancel(t.Context())
	var beforeDecode runtime.MemStats
	c.hooks.decodeStart = func(context.Context) {
		cancel()
		runtime.ReadMemStats(&beforeDecode)
	}
	_, err := c.Put(ctx, bytes.NewReader(in))
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, ErrCorrupt)
	require.NoError(t, c.budget.waitIdle(t.Context()))
	var afterDecode runtime.MemStats
	runtime.ReadMemStats(&afterDecode)
	assert.Less(t, afterDecode.TotalAlloc-beforeDecode.TotalAlloc, uint64(w*h),
		"the cancelled decoder went on to allocate its pixels")
	assert.Zero(t, c.budget.inUse.Load())
	assert.Zero(t, c.store.Stats().Originals)

	// Cancelled in the middle of the decode, in every format.
	stopsMidDecode(t, context.Canceled)
}

func TestDecodeDeadlineIsNotCorrupt(t *testing.T) {
	// A deadline that has passed before the decoder starts.
	c := newTestCache(t, WithLimits(Limits{DecodeTimeout: time.Nanosecond}))
	_, err := c.Put(t.Context(), bytes.NewReader(fixture.JPEG(600, 600, 90)))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, ErrCorrupt)
	assert.Equal(t, "deadline", reasonOf(err))

	// A deadline that passes halfway through the decoder's reads: the decoder's own
	// complaint about its failed read (often "unexpected EOF") must not make it ErrCorrupt.
	stopsMidDecode(t, context.DeadlineExceeded)
}

// A decoder that does not read (busy computing) cannot be stopped, but the caller must not
// wait for it, and its memory must stay reserved until it really returns. When it reads
// again, it stops there.
func TestDecodeCallerReturnsWhileDecoderRuns(t *testing.T) {
	c := newTestCache(t)
	started, unblock := make(chan struct{}), make(chan struct{})
	c.hooks.decodeStart = func(context.Context) {
		close(started)
		<-unblock
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	const w, h = 1000, 1000 // a 4 MB decode
	go func() {
		_, err := c.Put(ctx, bytes.NewReader(fixture.PNG(w, h)))
		errc <- err
	}()
	<-started
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	assert.Positive(t, c.budget.inUse.Load(), "budget released before the decoder returned")
	// Only the decoder runs from here on. Unblocked, it must stop at its first read, long
	// before it has built its pixels.
	n := allocatedDuring(func() {
		close(unblock)
		require.NoError(t, c.budget.waitIdle(t.Context()))
	})
	assert.Less(t, n, uint64(w*h), "the abandoned decoder ran on after its caller left")
	assert.Zero(t, c.budget.inUse.Load())
}

func TestDecoderPanicIsRecovered(t *testing.T) {
	c := newTestCache(t)
	c.hooks.decodeStart = func(context.Context) { panic("decoder bug") }
	_, err := c.Put(t.Context(), bytes.NewReader(fixture.PNG(10, 10)))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.NotContains(t, err.Error(), "decoder bug")
	// The panicked decode's reservation is released; the timeout is only a hang guard.
	idle, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	require.NoError(t, c.budget.waitIdle(idle), "budget still held after a recovered panic")

	// The process and the cache carry on.
	c.hooks.decodeStart = nil
	put(t, c, fixture.PNG(10, 10))
}

// TestConcurrentPutsStayWithinBudget checks the budget against what decodes really
// allocate, not against its own bookkeeping: it measures what one proving decode of
// these inputs allocates (TotalAlloc, alone) and sets the budget to two and a half
// times that, so at most two decodes may ever run at once. An estimate below the real
// allocation would let more in. The inputs are grey PNGs with a tRNS chunk, which decode
// to four bytes a pixel where DecodeConfig's colour model says one.
func TestConcurrentPutsStayWithinBudget(t *testing.T) {
	const n = 16
	inputs := make([][]byte, n)
	var one int64 // the most one proving decode allocates, with its input
	for i := range inputs {
		// Flat: small files, so the inputs queued for budget stay far below the bound on
		// what waiters may hold (TestBudgetBoundsInputsHeldByWaiters).
		inputs[i] = fixture.PNGRaw(fixture.PNGShape{Width: 1200 + i, Height: 1200, ColorType: 0, BitDepth: 8, TRNS: true, Flat: true})
		h, err := inspect(inputs[i], putConfig{}, DefaultLimits())
		require.NoError(t, err)
		got := totalAlloc(func() { _, err = decodeImage(t.Context(), inputs[i], h, proveOpts) })
		require.NoError(t, err)
		one = max(one, got+int64(cap(inputs[i])))
	}
	budget := one * 5 / 2 // room for two decodes at once, not three
	c := newTestCache(t, WithLimits(Limits{MemoryBudget: budget}))
	var most atomic.Int64 // decodes in flight, at most, seen as each one starts
	c.hooks.decodeStart = func(context.Context) {
		for a := c.budget.active.Load(); ; {
			m := most.Load()
			if a <= m || most.CompareAndSwap(m, a) {
				break
			}
		}
	}

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = c.Put(t.Context(), bytes.NewReader(inputs[i]))
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "put %d", i)
	}
	t.Logf("one decode allocates %d; budget %d; decodes at once: %d", one, budget, most.Load())
	assert.LessOrEqual(t, most.Load()*one, budget, "decodes in flight allocate more than the budget")
	assert.GreaterOrEqual(t, most.Load(), int64(2), "never two decodes at once: the test proves nothing")
	assert.Positive(t, c.budget.waits.Load(), "no decode waited for memory")
	assert.Zero(t, c.budget.inUse.Load())
	assert.Equal(t, n, c.store.Stats().Originals)
}

func TestBudgetRefusesDecodeLargerThanWholeBudget(t *testing.T) {
	c := newTestCache(t, WithLimits(Limits{MemoryBudget: 1 << 20}))
	forbidDecode(t, c)
	_, err := c.Put(t.Context(), bytes.NewReader(fixture.PNG(1000, 1000)))
	require.ErrorIs(t, err, ErrDimensions)
	var le *LimitError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, int64(1<<20), le.Limit)
}

func TestBudgetQueueFullIsBusy(t *testing.T) {
	in := fixture.PNG(200, 200)
	h, err := inspect(in, putConfig{}, DefaultLimits())
	require.NoError(t, err)
	// Put reserves for readLimited's buffer, which for a reader that tells its length
	// is that length and one byte.
	c := newTestCache(t, WithLimits(Limits{MemoryBudget: putBytes(h, len(in)+1), MaxQueue: 1}))
	started, unblock := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c.hooks.decodeStart = func(context.Context) {
		once.Do(func() {
			close(started)
			<-unblock
		})
	}
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = c.Put(t.Context(), bytes.NewReader(in)) }) // holds the whole budget
	<-started
	waiterErr := make(chan error, 1)
	go func() { _, err := c.Put(t.Context(), bytes.NewReader(fixture.PNG(199, 200))); waiterErr <- err }()
	spinUntil(t, func() bool { return c.budget.waiting.Load() == 1 })

	_, err = c.Put(t.Context(), bytes.NewReader(fixture.PNG(198, 200)))
	require.ErrorIs(t, err, ErrBusy)

	// A waiter whose context ends gives up its place.
	close(unblock)
	wg.Wait()
	require.NoError(t, <-waiterErr)
}

func TestBudgetWaitHonoursContext(t *testing.T) {
	b := newBudget(100, 10)
	release, err := b.reserve(t.Context(), 100)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { _, err := b.reserve(ctx, 1); errc <- err }()
	spinUntil(t, func() bool { return b.waiting.Load() == 1 })
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	release()
	release() // idempotent
	assert.Zero(t, b.inUse.Load())
	r2, err := b.reserve(t.Context(), 100)
	require.NoError(t, err)
	r2()
}

func TestConcurrentGetsRenderOnce(t *testing.T) {
	c := newTestCache(t)
	info := put(t, c, fixture.JPEG(500, 400, 90))
	const n = 8
	var decodes, misses atomic.Int32
	unblock := make(chan struct{})
	c.hooks.decodeStart = func(context.Context) {
		decodes.Add(1)
		<-unblock
	}
	c.hooks.getMiss = func() { misses.Add(1) }
	var wg sync.WaitGroup
	results := make([][]byte, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			r, err := c.Get(t.Context(), info.ID, Spec{Width: 64})
			if err != nil {
				errs[i] = err
				return
			}
			results[i] = readRendition(t, r)
		})
	}
	// Every Get has missed and is waiting on the one render before it may finish.
	spinUntil(t, func() bool { return misses.Load() == n && decodes.Load() >= 1 })
	close(unblock)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, results[0], results[i])
	}
	assert.Equal(t, int32(1), decodes.Load(), "concurrent Gets rendered more than once")
}

func TestGetCallerLeavingDoesNotFailOthers(t *testing.T) {
	c := newTestCache(t)
	info := put(t, c, fixture.JPEG(300, 300, 90))
	started, unblock := make(chan struct{}), make(chan struct{})
	c.hooks.decodeStart = func(context.Context) {
		close(started)
		<-unblock
	}
	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() { _, err := c.Get(ctx, info.ID, Spec{Width: 30}); first <- err }()
	<-started
	second := make(chan error, 1)
	go func() {
		r, err := c.Get(t.Context(), info.ID, Spec{Width: 30})
		if err == nil {
			r.Close()
		}
		second <- err
	}()
	cancel()
	require.ErrorIs(t, <-first, context.Canceled)
	close(unblock)
	require.NoError(t, <-second)
}

// TestBudgetBoundsInputsHeldByWaiters: a Put reads its input before its header says what
// the decode needs, and holds it while it waits for budget. A flood of uploads queued
// behind a full budget must not hold unbounded memory outside it: once the inputs of the
// waiters would pass a quarter of the budget, the next upload is refused at once with
// ErrBusy, even though MaxQueue has room.
func TestBudgetBoundsInputsHeldByWaiters(t *testing.T) {
	const budgetBytes = 8 << 20
	c := newTestCache(t, WithLimits(Limits{MemoryBudget: budgetBytes, MaxQueue: 64}))
	hold, err := c.budget.reserve(t.Context(), budgetBytes) // the budget is full
	require.NoError(t, err)
	// Incompressible PNGs of about 1 MB each: three of them pass a quarter of 8 MiB.
	const uploads = 8
	inputs := make([][]byte, uploads)
	for i := range inputs {
		inputs[i] = fixture.PNGRaw(fixture.PNGShape{Width: 700 + i, Height: 500, ColorType: 2, BitDepth: 8})
	}
	each := int64(len(inputs[0]))
	require.Greater(t, 3*each, int64(budgetBytes/4), "the fixture must be large enough for the bound to bite")
	errs := make(chan error, uploads)
	for _, in := range inputs {
		go func() { _, err := c.Put(t.Context(), bytes.NewReader(in)); errs <- err }()
	}
	busy := 0
	// Every upload either waits or is refused; count the refusals as they come. A waiter
	// is counted by budget.waits, which only an upload that passed every check and really
	// waits adds to (budget.waiting also counts, for a moment, one about to be refused).
	spinUntil(t, func() bool {
		for {
			select {
			case err := <-errs:
				require.ErrorIs(t, err, ErrBusy)
				busy++
				continue
			default:
			}
			return int(c.budget.waits.Load())+busy == uploads
		}
	})
	assert.LessOrEqual(t, c.budget.heldWaiting.Load(), int64(budgetBytes/4))
	assert.GreaterOrEqual(t, busy, uploads-int(budgetBytes/4/each), "uploads beyond the held-input bound are refused")
	hold()
	for range uploads - busy {
		require.NoError(t, <-errs) // the waiters go on to succeed
	}
	assert.Zero(t, c.budget.heldWaiting.Load())
}
