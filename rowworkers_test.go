package fastimagecache

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/jpegdec"
)

// TestRenderSlotGivesIdleCores: one render alone may use every core; each further render
// in flight takes one away, down to one goroutine per render once renders fill the cores.
func TestRenderSlotGivesIdleCores(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	c := &Cache{}
	require.Equal(t, 1, rowWorkers(context.Background()), "outside a slot")
	require.Equal(t, 4, rowWorkers(c.renderSlot(context.Background())), "no job running")
	for _, want := range []int{4, 3, 2, 1, 1} {
		c.jobs.Add(1) // the render's own job, then others
		require.Equal(t, want, rowWorkers(c.renderSlot(context.Background())), "%d jobs running", c.jobs.Load())
	}
	c.jobs.Store(1)
	require.Equal(t, 4, rowWorkers(c.renderSlot(context.Background())), "alone again")
}

// TestJPEGDecodeTakesSlotWorkers: a baseline JPEG decoded under a slot that grants two
// goroutines runs jpegdec's pipeline (its ring, which the reservation counts, is
// allocated); outside a slot, or under one that grants one, it does not.
func TestJPEGDecodeTakesSlotWorkers(t *testing.T) {
	data := fixture.JPEG(640, 480, 85)
	h, err := inspect(data, putConfig{}, DefaultLimits())
	require.NoError(t, err)
	o := decodeOpts{jpegScale: 1}
	ring := h.decodeBytesFor(o) - jpegdec.AllocBytes(*h.jpeg, jpegOptions(o))
	require.Positive(t, ring, "the reservation counts the ring")
	ctx := context.Background()
	alloc := func(ctx context.Context) int64 {
		return totalAlloc(func() {
			_, err := decodeImage(ctx, data, h, o)
			require.NoError(t, err)
		})
	}
	serial := alloc(ctx)
	require.Less(t, alloc(withRowWorkers(ctx, 1)), serial+ring/2, "one worker: no pipeline")
	require.GreaterOrEqual(t, alloc(withRowWorkers(ctx, 2)), serial+ring, "two workers: the pipeline's ring")
}
