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
	var releases []func()
	for _, want := range []int{4, 3, 2, 1, 1} {
		ctx, release := c.renderSlot(context.Background())
		releases = append(releases, release)
		require.Equal(t, want, rowWorkers(ctx), "render %d in flight", len(releases))
	}
	for _, r := range releases {
		r()
	}
	require.Zero(t, c.rendering.Load())
	ctx, release := c.renderSlot(context.Background())
	defer release()
	require.Equal(t, 4, rowWorkers(ctx), "alone again")
}
