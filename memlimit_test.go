package fastimagecache

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// withMemoryLimit sets the process's memory limit to n for the test and restores the
// limit in force before it afterwards.
func withMemoryLimit(t *testing.T, n int64) {
	t.Helper()
	old := debug.SetMemoryLimit(n)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
}

func newLimited(t *testing.T, opts ...Option) *Cache {
	t.Helper()
	c, err := New(t.TempDir(), opts...)
	require.NoError(t, err)
	return c
}

func TestRuntimeMemoryLimitFigure(t *testing.T) {
	withMemoryLimit(t, math.MaxInt64)
	c := newLimited(t, WithLimits(Limits{MemoryBudget: 256 << 20}))
	defer c.Close()
	require.Equal(t, int64(256+64+64)<<20, c.RuntimeMemoryLimit(), "budget + default tier + headroom")
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "New never sets the limit unasked")

	off := newLimited(t, WithLimits(Limits{MemoryBudget: 256 << 20}), WithMemoryCache(-1))
	defer off.Close()
	require.Equal(t, int64(256+64)<<20, off.RuntimeMemoryLimit(), "no memory tier")

	def := newLimited(t, WithMemoryCache(8<<20))
	defer def.Close()
	require.Equal(t, int64(1024+8+64)<<20, def.RuntimeMemoryLimit(), "default 1 GiB budget")
}

func TestWithRuntimeMemoryLimitSetsAndRestores(t *testing.T) {
	withMemoryLimit(t, math.MaxInt64)
	c := newLimited(t, WithLimits(Limits{MemoryBudget: 256 << 20}), WithRuntimeMemoryLimit())
	require.Equal(t, c.RuntimeMemoryLimit(), debug.SetMemoryLimit(-1))
	require.NoError(t, c.Close())
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "Close restores the limit before New")
	require.NoError(t, c.Close())
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "a second Close changes nothing")
}

func TestWithRuntimeMemoryLimitNeverRaises(t *testing.T) {
	const operator = 200 << 20 // as if GOMEMLIMIT=200MiB
	withMemoryLimit(t, operator)
	c := newLimited(t, WithLimits(Limits{MemoryBudget: 256 << 20}), WithRuntimeMemoryLimit())
	require.Equal(t, int64(operator), debug.SetMemoryLimit(-1), "a lower limit in force is kept")
	require.NoError(t, c.Close())
	require.Equal(t, int64(operator), debug.SetMemoryLimit(-1))

	const high = 8 << 30
	debug.SetMemoryLimit(high)
	c = newLimited(t, WithLimits(Limits{MemoryBudget: 256 << 20}), WithRuntimeMemoryLimit())
	require.Equal(t, c.RuntimeMemoryLimit(), debug.SetMemoryLimit(-1), "a higher limit is lowered")
	require.NoError(t, c.Close())
	require.Equal(t, int64(high), debug.SetMemoryLimit(-1))
}

func TestWithRuntimeMemoryLimitSharedByCaches(t *testing.T) {
	withMemoryLimit(t, math.MaxInt64)
	a := newLimited(t, WithLimits(Limits{MemoryBudget: 256 << 20}), WithRuntimeMemoryLimit())
	b := newLimited(t, WithLimits(Limits{MemoryBudget: 128 << 20}), WithMemoryCache(-1), WithRuntimeMemoryLimit())
	plain := newLimited(t, WithLimits(Limits{MemoryBudget: 512 << 20}))
	require.Equal(t, int64(256+64+128+64)<<20, debug.SetMemoryLimit(-1), "both budgets and tiers, one headroom")
	require.NoError(t, plain.Close())
	require.NoError(t, a.Close())
	require.Equal(t, b.RuntimeMemoryLimit(), debug.SetMemoryLimit(-1), "a's part given back")
	require.NoError(t, b.Close())
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1))
}
