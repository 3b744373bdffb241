package fastimagecache

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
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
