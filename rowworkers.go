package fastimagecache

import (
	"context"
	"runtime"
)

// rowWorkersKey is the context key under which renderSlot tells a render how many
// goroutines its resize may use.
type rowWorkersKey struct{}

// renderSlot returns ctx telling the render that runs under it how many goroutines its
// resize may split one image's rows across (rowWorkers): its own and every core the other
// jobs running now leave idle (c.jobs counts the running decode and render jobs, this
// one's included), 1 once as many jobs as cores are running, so that a loaded server
// keeps one goroutine per request (more would only cost throughput: see the resize
// package). The decision is made once, at the start; the extra goroutines' row buffers
// are a few rows of the image, inside what the render's reservation counts for the
// resize (renderBytes).
func (c *Cache) renderSlot(ctx context.Context) context.Context {
	return withRowWorkers(ctx, idleCores(int64(c.jobs.Load()), runtime.GOMAXPROCS(0)))
}

// withRowWorkers returns ctx allowing a render n goroutines.
func withRowWorkers(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, rowWorkersKey{}, n)
}

// idleCores is how many goroutines a job may use on cores cores while running jobs run
// (itself included): itself plus every core the others leave idle.
func idleCores(running int64, cores int) int {
	if running >= int64(cores) {
		return 1
	}
	return min(cores, cores-int(running)+1) // #nosec G115 -- 0 <= running < cores, an int
}

// rowWorkers is the goroutines renderSlot allowed the render under ctx (1 outside one).
func rowWorkers(ctx context.Context) int {
	n, _ := ctx.Value(rowWorkersKey{}).(int)
	return max(n, 1)
}
