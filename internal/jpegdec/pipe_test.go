package jpegdec

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pipeSamples are baseline JPEGs large enough (at least pipeMinBlocks) for
// Workers 2 to decode them by a pipeline: every layout the sequential scan
// loop knows (interleaved with each subsampling, gray, four components,
// restart intervals, one scan per component), over several bands.
func pipeSamples(t testing.TB) []sample {
	var out []sample
	add := func(name string, b []byte) { out = append(out, sample{name, b}) }
	m := naturalImage(419, 301, 7) // 4:2:0: 27×19 MCUs, 3078 blocks
	add("std/420", stdEncode(t, m, 85))
	add("std/gray", stdEncode(t, toGray(m), 75))
	for _, ss := range subsamplings {
		add("enc/"+ss.name, ycbcrEncoder(m, ss.h0, ss.v0, ss.h1, ss.v1, 90).encode())
	}
	e := ycbcrEncoder(m, 2, 2, 1, 1, 80)
	e.restart = 5
	add("enc/420/rst5", e.encode())
	e = ycbcrEncoder(m, 2, 1, 1, 1, 80)
	e.scans = []encScan{{comps: []int{0}, se: 63}, {comps: []int{1}, se: 63}, {comps: []int{2}, se: 63}}
	add("enc/422/separate-scans", e.encode())
	e = channelEncoder(m, 4, []byte{1, 2, 3, 4}, []int{2, 1, 1, 2}, 70)
	e.adobe = 2
	add("enc/ycck-2211", e.encode())
	for _, s := range out {
		_, err := jpeg.Decode(bytes.NewReader(s.data))
		require.NoError(t, err, s.name)
	}
	return out
}

// TestPipelineSameAsSerial checks that Workers 2 decodes every layout to the
// image Workers 1 gives (image/jpeg's at scale 1), at the scales it
// pipelines, and that it did use the pipeline: it allocated the ring, as
// AllocBytes counts it.
func TestPipelineSameAsSerial(t *testing.T) {
	for _, s := range pipeSamples(t) {
		want, err := jpeg.Decode(bytes.NewReader(s.data))
		require.NoError(t, err)
		h, err := DecodeHeader(bytes.NewReader(s.data))
		require.NoError(t, err)
		for _, scale := range []int{1} {
			serial, err := decodeBytes(s.data, Options{Scale: scale})
			require.NoError(t, err, s.name)
			if scale == 1 {
				require.Empty(t, sameImage(want, serial), s.name)
			}
			opt := Options{Scale: scale, Workers: 2}
			var got image.Image
			alloc := allocated(func() { got, err = decodeBytes(s.data, opt) })
			require.NoError(t, err, s.name)
			assert.Empty(t, sameImage(serial, got), "%s at 1/%d", s.name, scale)
			est := AllocBytes(h, opt)
			assert.Equal(t, int64(pipeRingBytes), est-AllocBytes(h, Options{Scale: scale}))
			assert.GreaterOrEqual(t, alloc, uint64(est), "%s at 1/%d: no ring allocated", s.name, scale)
			assert.LessOrEqual(t, alloc, uint64(est)+allocSlack, "%s at 1/%d", s.name, scale)
			// Through a reader too.
			got, err = Decode(bytes.NewReader(s.data), opt)
			require.NoError(t, err, s.name)
			assert.Empty(t, sameImage(serial, got), "%s at 1/%d, Decode", s.name, scale)
		}
	}
}

// TestPipelineSmallOrScaled checks that the pipeline is not started where it
// does not pay: a frame under pipeMinBlocks, and the reduced scales.
func TestPipelineSmallOrScaled(t *testing.T) {
	small := stdEncode(t, naturalImage(200, 100, 3), 80) // 4:2:0: 13×7 MCUs, 546 blocks
	big := stdEncode(t, naturalImage(419, 301, 7), 80)
	for _, tc := range []struct {
		data []byte
		opt  Options
	}{{small, Options{Workers: 2}}, {big, Options{Scale: 2, Workers: 2}}, {big, Options{Scale: 4, Workers: 2}}, {big, Options{Scale: 8, Workers: 2}}} {
		h, err := DecodeHeader(bytes.NewReader(tc.data))
		require.NoError(t, err)
		serialOpt := tc.opt
		serialOpt.Workers = 1
		assert.Equal(t, AllocBytes(h, serialOpt), AllocBytes(h, tc.opt))
		alloc := allocated(func() { _, err = decodeBytes(tc.data, tc.opt) })
		require.NoError(t, err)
		assert.Less(t, alloc, uint64(AllocBytes(h, tc.opt))+allocSlack)
	}
}

// TestPipelineErrors checks that Workers 2 fails exactly where, and as,
// Workers 1 does on corrupt input (truncated, a byte changed, a marker
// inserted in the entropy-coded data, in the first band, across band
// boundaries and in the last), and gives the same image when it does not.
func TestPipelineErrors(t *testing.T) {
	rng := newRand(19)
	iters := 12
	if testing.Short() || raceEnabled {
		iters = 3
	}
	for _, s := range pipeSamples(t) {
		d := s.data
		check := func(what string, data []byte) {
			t.Helper()
			for _, scale := range []int{1} {
				want, werr := decodeBytes(data, Options{Scale: scale})
				got, err := decodeBytes(data, Options{Scale: scale, Workers: 2})
				require.True(t, sameResult(want, werr, got, err), "%s, %s at 1/%d: Workers 1 returns %v, Workers 2 %v", s.name, what, scale, werr, err)
			}
		}
		for range iters {
			p := 2 + rng.IntN(len(d)-2)
			check(fmt.Sprintf("truncated at %d", p), d[:p])
			check(fmt.Sprintf("truncated at %d + EOI", p), append(bytes.Clone(d[:p]), 0xff, 0xd9))
			m := bytes.Clone(d)
			m[2+rng.IntN(len(d)-2)] = byte(rng.Uint32())
			check("byte", m)
			p = 2 + rng.IntN(len(d)-2)
			mk := []byte{0xd0 + byte(rng.IntN(8)), 0xd9, 0xc4, 0x00}[rng.IntN(4)]
			check(fmt.Sprintf("marker %#x at %d", mk, p), append(append(bytes.Clone(d[:p]), 0xff, mk), d[p:]...))
		}
	}
}

// cancelAfter is a context that is done from the n-th call of Err on.
type cancelAfter struct {
	context.Context
	n     int64
	calls atomic.Int64
	done  chan struct{}
}

func (c *cancelAfter) Done() <-chan struct{} { return c.done }
func (c *cancelAfter) Err() error {
	if c.calls.Add(1) >= c.n {
		return context.Canceled
	}
	return nil
}
func (c *cancelAfter) Deadline() (time.Time, bool) { return time.Time{}, false }

// TestPipelineCancel checks that a decode with Workers 2 stops with the
// context's error when it is cancelled in the middle of the entropy-coded
// data, as one with Workers 1 does, after as much input.
func TestPipelineCancel(t *testing.T) {
	data := pipeSamples(t)[0].data
	const window = 512
	cancelled := 0
	for n := int64(1); ; n += 3 {
		serialCtx := &cancelAfter{Context: context.Background(), n: n, done: make(chan struct{})}
		pipeCtx := &cancelAfter{Context: context.Background(), n: n, done: make(chan struct{})}
		want, werr := decodeBytesWindow(serialCtx, data, Options{}, window)
		got, err := decodeBytesWindow(pipeCtx, data, Options{Workers: 2}, window)
		require.True(t, sameResult(want, werr, got, err), "cancelled at check %d: Workers 1 returns %v, Workers 2 %v", n, werr, err)
		assert.Equal(t, serialCtx.calls.Load(), pipeCtx.calls.Load(), "cancelled at check %d", n)
		if werr == nil {
			break
		}
		require.ErrorIs(t, err, context.Canceled)
		cancelled++
	}
	assert.Greater(t, cancelled, len(data)/window/3/2, "the data was not cancelled in the middle")
}

// TestPipelinePanic checks that a panic of the reconstructing goroutine
// reaches the caller of Decode (which a caller such as the cache recovers
// from), instead of ending the process: the planes are made too small for
// the frame, so that the inverse DCT stores past their end.
func TestPipelinePanic(t *testing.T) {
	data := pipeSamples(t)[1].data // gray
	d := new(decoder)
	d.workers = 2
	d.bytes.buf, d.bytes.j = data, len(data)
	d.img1 = image.NewGray(image.Rect(0, 0, 8, 8))
	assert.Panics(t, func() { _, _ = d.decode(nil, false, false) })
}

// TestPipelineCallerPanic checks that when the caller's goroutine panics in
// an inverse DCT it took over (planes too small again, and the second
// goroutine held up so that the ring fills), the second goroutine still ends:
// the panic reaches the caller, and no goroutine is left behind.
func TestPipelineCallerPanic(t *testing.T) {
	data := pipeSamples(t)[1].data // gray, 2800 blocks: more bands than the ring
	before := runtime.NumGoroutine()
	for range 20 { // which goroutine panics first varies: most runs have the caller's
		d := new(decoder)
		d.workers = 2
		d.bytes.buf, d.bytes.j = data, len(data)
		d.img1 = image.NewGray(image.Rect(0, 0, 8, 8))
		runtime.LockOSThread() // keep this goroutine running while the other waits
		assert.Panics(t, func() { _, _ = d.decode(nil, false, false) })
		runtime.UnlockOSThread()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "a pipeline goroutine is left behind")
}
