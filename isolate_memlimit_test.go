package fastimagecache

import (
	"io"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/workerproto"
)

// TestWorkerJobMemoryLimit: during a job, a worker's soft memory limit is the job's
// reservation plus a fixed headroom, far below the worker's own hard limit, so that
// several workers together stay near the budget; after the job, the worker's limit is
// back.
func TestWorkerJobMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	const workerLimit = 1 << 40
	data := fixture.PNG(400, 300)
	lim := DefaultLimits()
	h, err := inspect(data, putConfig{}, lim)
	require.NoError(t, err)
	spec, err := Spec{Width: 100, Height: 100}.canonical(lim, Info{Format: PNG, Width: 400, Height: 300, Frames: 1}, false)
	require.NoError(t, err)
	for _, tc := range []struct {
		kind workerproto.Kind
		need int64 // what the host reserves for the job, without a worker's answer
	}{
		{workerproto.KindProve, putBytes(h, len(data))},
		{workerproto.KindRender, renderBytes(h, spec) + int64(len(data)) + decodeOverhead},
	} {
		var during int64
		opts := workerOptions{jobStart: func() { during = debug.SetMemoryLimit(-1) }}
		q := &workerproto.Request{Kind: tc.kind, Timeout: time.Minute, Limits: limitsToProto(lim), Spec: specToProto(spec), Data: data}
		resp := runJob(q, io.Discard, workerLimit, opts)
		require.Equal(t, workerproto.OK, resp.Code, resp.Message)
		assert.GreaterOrEqual(t, during, tc.need, "kind %v: the job's limit covers its reservation", tc.kind)
		assert.LessOrEqual(t, during, tc.need+workerJobHeadroom, "kind %v: the job's limit follows its reservation", tc.kind)
		assert.Equal(t, int64(workerLimit), debug.SetMemoryLimit(-1), "kind %v: the worker's limit is back after the job", tc.kind)
	}
}
