package fastimagecache

import (
	"context"
	"runtime"
)

// rowWorkersKey is the context key under which renderSlot tells a render how many
// goroutines its resize may use.
type rowWorkersKey struct{}

// renderSlot counts a render in flight in this process until release, and returns ctx
// telling the render how many goroutines its resize may split one image's rows across
// (rowWorkers): the cores no other render is using when it starts, 1 once as many renders
// as cores are in flight, so that a loaded server keeps one goroutine per request (more
// would only cost throughput: see the resize package). The decision is made once, at the
// start; the extra goroutines' row buffers are a few rows of the image, inside what the
// render's reservation counts for the resize (renderBytes).
func (c *Cache) renderSlot(ctx context.Context) (_ context.Context, release func()) {
	n := c.rendering.Add(1)
	return context.WithValue(ctx, rowWorkersKey{}, idleCores(n, runtime.GOMAXPROCS(0))),
		func() { c.rendering.Add(-1) }
}

// idleCores is how many goroutines the render that makes inFlight renders in flight may
// use on cores cores: itself plus every core the others leave idle.
func idleCores(inFlight int64, cores int) int {
	if inFlight >= int64(cores) {
		return 1
	}
	return cores - int(inFlight) + 1 // #nosec G115 -- 0 < inFlight < cores, an int
}

// rowWorkers is the goroutines renderSlot allowed the render under ctx (1 outside one).
func rowWorkers(ctx context.Context) int {
	n, _ := ctx.Value(rowWorkersKey{}).(int)
	return max(n, 1)
}
