package fastimagecache

import (
	"bytes"
	"io"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// onlyReader hides every method of r but Read, as a network body does.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestReadLimitedAllocation measures readLimited's allocations. An endless body of
// unknown length stops at max+1 bytes read, in a buffer that never grows past max+1:
// the doublings before it add up to less than that again, where a bytes.Buffer's
// doubling reached about twice max for the last buffer alone. A body that tells its
// length is read into one buffer of that length.
func TestReadLimitedAllocation(t *testing.T) {
	const max = 5<<20 + 12345 // not a power of two, so doubling overshoots
	var err error
	got := totalAlloc(func() { _, err = readLimited(t.Context(), onlyReader{fixture.Endless([]byte("x"))}, max) })
	require.ErrorIs(t, err, ErrTooLarge)
	t.Logf("endless body, max %d: allocated %d", max, got)
	assert.LessOrEqual(t, got, int64(2*(max+1)+readChunk), "unknown length")

	var data []byte
	in := bytes.Repeat([]byte{7}, max)
	got = totalAlloc(func() { data, err = readLimited(t.Context(), onlyReader{bytes.NewReader(in)}, max) })
	require.NoError(t, err)
	require.Equal(t, in, data)
	assert.LessOrEqual(t, int64(cap(data)), int64(max+1), "buffer grew past max+1")
	assert.LessOrEqual(t, got, int64(2*(max+1)+readChunk), "unknown length")

	got = totalAlloc(func() { data, err = readLimited(t.Context(), bytes.NewReader(in), max) })
	require.NoError(t, err)
	require.Equal(t, in, data)
	t.Logf("body of known length %d: allocated %d", max, got)
	assert.LessOrEqual(t, got, int64(max+1+readChunk), "known length: one buffer")

	_, err = readLimited(t.Context(), bytes.NewReader(append(in, 1)), max)
	require.ErrorIs(t, err, ErrTooLarge, "a length over max")
}

// TestGetMissReservesBeforeReading holds the whole budget and starts a Get miss: it
// must wait for budget before it reads the original (whose size the metadata gives),
// not read it and then wait holding it unreserved.
func TestGetMissReservesBeforeReading(t *testing.T) {
	big := fixture.PNGOpaque(1200, 1200)
	c := newTestCache(t)
	info := put(t, c, big)
	hold, err := c.budget.reserve(t.Context(), c.budget.size)
	require.NoError(t, err)

	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan error, 1)
	go func() {
		r, err := c.Get(t.Context(), info.ID, Spec{Width: 64})
		if err == nil {
			_ = r.Close()
		}
		done <- err
	}()
	spinUntil(t, func() bool { return c.budget.waiting.Load() == 1 })
	runtime.ReadMemStats(&after)
	waiting := int64(after.TotalAlloc - before.TotalAlloc) // #nosec G115 -- a delta of a counter that only grows
	t.Logf("original %d bytes; allocated before waiting for budget: %d", len(big), waiting)
	assert.Less(t, waiting, int64(len(big)/2), "the original was read before its reservation")
	hold()
	require.NoError(t, <-done)
}

// TestGetMissWaitsWithoutHoldingTheOriginal covers the other way through a Get miss: the
// original's size is free, the render's reservation is not. The Get gives back what it
// holds, waits for the whole reservation, reads the original again under it, and
// renders; nothing stays reserved.
func TestGetMissWaitsWithoutHoldingTheOriginal(t *testing.T) {
	in := fixture.PNGOpaque(600, 600)
	c := newTestCache(t)
	info := put(t, c, in)
	hold, err := c.budget.reserve(t.Context(), c.budget.size-2*info.Size) // room to read it, not to render it
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		r, err := c.Get(t.Context(), info.ID, Spec{Width: 64})
		if err == nil {
			_ = r.Close()
		}
		done <- err
	}()
	spinUntil(t, func() bool { return c.budget.waiting.Load() == 1 })
	assert.Equal(t, c.budget.size-2*info.Size, c.budget.inUse.Load(), "the Get waits holding nothing")
	hold()
	require.NoError(t, <-done)
	require.NoError(t, c.budget.waitIdle(t.Context()))
	assert.Zero(t, c.budget.inUse.Load())
}
