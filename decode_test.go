package fastimagecache

import (
	"bytes"
	"context"
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

func TestDecodeCancelledStopsAtNextRead(t *testing.T) {
	c := newTestCache(t)
	ctx, cancel := context.WithCancel(t.Context())
	c.hooks.decodeStart = func(context.Context) { cancel() }
	_, err := c.Put(ctx, bytes.NewReader(fixture.PNG(800, 800)))
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, ErrCorrupt)
	require.NoError(t, c.budget.waitIdle(t.Context()))
	assert.Zero(t, c.budget.inUse.Load())
	assert.Zero(t, c.store.Stats().Originals)
}

func TestDecodeDeadlineIsNotCorrupt(t *testing.T) {
	c := newTestCache(t, WithLimits(Limits{DecodeTimeout: time.Nanosecond}))
	_, err := c.Put(t.Context(), bytes.NewReader(fixture.JPEG(600, 600, 90)))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, ErrCorrupt)
	assert.Equal(t, "deadline", reasonOf(err))
}

// A decoder that does not read (busy computing) cannot be stopped, but the caller must not
// wait for it, and its memory must stay reserved until it really returns.
func TestDecodeCallerReturnsWhileDecoderRuns(t *testing.T) {
	c := newTestCache(t)
	started, unblock := make(chan struct{}), make(chan struct{})
	c.hooks.decodeStart = func(context.Context) {
		close(started)
		<-unblock
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Put(ctx, bytes.NewReader(fixture.PNG(300, 300)))
		errc <- err
	}()
	<-started
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	assert.Positive(t, c.budget.inUse.Load(), "budget released before the decoder returned")
	close(unblock)
	require.NoError(t, c.budget.waitIdle(t.Context()))
	assert.Zero(t, c.budget.inUse.Load())
}

func TestDecoderPanicIsRecovered(t *testing.T) {
	c := newTestCache(t)
	c.hooks.decodeStart = func(context.Context) { panic("decoder bug") }
	_, err := c.Put(t.Context(), bytes.NewReader(fixture.PNG(10, 10)))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.NotContains(t, err.Error(), "decoder bug")
	require.NoError(t, c.budget.waitIdle(t.Context()))

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
		inputs[i] = fixture.PNGRaw(fixture.PNGShape{Width: 1200 + i, Height: 1200, ColorType: 0, BitDepth: 8, TRNS: true})
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
