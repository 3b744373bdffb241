package fastimagecache

import (
	"math"
	"runtime/debug"
	"sync"
)

// runtimeHeadroom is what a process needs besides decodes and the memory tier, in bytes:
// the runtime itself, goroutine stacks, HTTP and store buffers, originals' metadata (at
// most 4 MiB) and the inputs being read.
const runtimeHeadroom = 64 << 20

// WithRuntimeMemoryLimit makes New lower the Go runtime's soft memory limit (what
// GOMEMLIMIT or debug.SetMemoryLimit set) to [Cache.RuntimeMemoryLimit], so that the
// garbage collector runs before the heap outgrows what the Cache's memory budget admits.
// Without a limit the heap grows to about twice its live size between collections
// (GOGC=100), so a flood of decodes that the budget allows can take the process's
// resident memory to twice the budget and more.
//
// The limit is process-global: it applies to every allocation in the program, not just
// the Cache's, which is why New never sets it unless asked. It is only ever lowered: a
// limit already in force that is lower (GOMEMLIMIT set by the operator, or an earlier
// debug.SetMemoryLimit) is kept. Several Caches opened with this option share one limit,
// the sum of their budgets and memory tiers plus one headroom; Close gives back the
// Cache's part, and the last Close restores the limit in force before the first New. A
// program that holds large data of its own besides the Cache should set GOMEMLIMIT
// itself, to that data plus RuntimeMemoryLimit, instead of using this option.
//
// The limit is soft: if live memory really passes it, the runtime lets the heap grow
// rather than stall (it caps garbage collection at about half the CPU), so it bounds
// the heap's slack, while the budget bounds live decode memory. With WithIsolation,
// decodes run in worker processes that have limits of their own
// ([IsolationConfig].MemoryLimit); this option sets the limit of the host process only.
func WithRuntimeMemoryLimit() Option {
	return optionFunc(func(c *config) { c.runtimeLimit = true })
}

// RuntimeMemoryLimit returns the soft memory limit for the Go runtime, in bytes, under
// which a process that holds this Cache stays near its budget: Limits.MemoryBudget, plus
// the memory tier (WithMemoryCache, 64 MiB by default), plus 64 MiB for the rest of the
// process. [WithRuntimeMemoryLimit] sets it; a program may instead pass it to
// debug.SetMemoryLimit, adding its own needs. It is the same whether or not the option
// was given, and is safe to call concurrently and after Close.
func (c *Cache) RuntimeMemoryLimit() int64 {
	return runtimeMemoryLimit(c.lim, c.cfg.memoryBytes)
}

// runtimeMemoryLimit is the figure RuntimeMemoryLimit returns for limits lim (defaults
// filled in) and a memory tier of memoryBytes (negative: none).
func runtimeMemoryLimit(lim Limits, memoryBytes int64) int64 {
	return satAdd(satAdd(lim.MemoryBudget, max(memoryBytes, 0)), runtimeHeadroom)
}

// satAdd adds two non-negative numbers, saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// memLimit is the process-wide state of the limits WithRuntimeMemoryLimit set.
var memLimit struct {
	mu    sync.Mutex // guards the fields below and every call of debug.SetMemoryLimit here
	users int        // open Caches that applied their limit
	sum   int64      // their figures, each less runtimeHeadroom (shared once)
	base  int64      // the limit in force before the first of them applied its own
}

// applyRuntimeMemoryLimit sets the process's memory limit for a Cache opened with cfg
// and lim, when cfg asks for it. New calls it once it can no longer fail.
func applyRuntimeMemoryLimit(cfg config, lim Limits) {
	if !cfg.runtimeLimit {
		return
	}
	memLimit.mu.Lock()
	defer memLimit.mu.Unlock()
	if memLimit.users == 0 {
		memLimit.base = debug.SetMemoryLimit(-1) // -1 reads the limit without changing it
		memLimit.sum = 0
	}
	memLimit.users++
	memLimit.sum = satAdd(memLimit.sum, runtimeMemoryLimit(lim, cfg.memoryBytes)-runtimeHeadroom)
	debug.SetMemoryLimit(min(memLimit.base, satAdd(memLimit.sum, runtimeHeadroom)))
}

// releaseRuntimeMemoryLimit gives back what applyRuntimeMemoryLimit took for a Cache
// opened with cfg and lim. Close calls it once.
func releaseRuntimeMemoryLimit(cfg config, lim Limits) {
	if !cfg.runtimeLimit {
		return
	}
	memLimit.mu.Lock()
	defer memLimit.mu.Unlock()
	if memLimit.users == 0 {
		return
	}
	memLimit.users--
	if memLimit.users == 0 {
		debug.SetMemoryLimit(memLimit.base)
		return
	}
	memLimit.sum -= min(memLimit.sum, runtimeMemoryLimit(lim, cfg.memoryBytes)-runtimeHeadroom)
	debug.SetMemoryLimit(min(memLimit.base, satAdd(memLimit.sum, runtimeHeadroom)))
}
