package fastimagecache

import (
	"bytes"
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// TestEagerRenderDeadlineAfterProof: DecodeTimeout fires during an eager render, after
// the proof succeeded. The Put succeeds, the rendition is skipped (not stored, not
// rendered again by a decode of its own), and the Put never reads what the still running
// decode goroutine writes. "after-put": the goroutine writes its results only once Put has
// returned, so a Put that read them would see them unset and store a rendition. "racing":
// the goroutine writes them as soon as the deadline fires, while Put goes on; under -race
// a Put that read them is a reported data race.
func TestEagerRenderDeadlineAfterProof(t *testing.T) {
	for _, order := range []string{"after-put", "racing"} {
		t.Run(order, func(t *testing.T) {
			var logs lockedBuffer
			spec := Spec{Width: 32}
			c := newTestCache(t,
				WithLimits(Limits{DecodeTimeout: time.Second}), // a hang guard: the hook waits for it
				WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
				WithEagerRenditions(spec))
			src := fixture.PNG(96, 72)
			h, err := inspect(src, putConfig{}, c.lim)
			require.NoError(t, err)
			cs, err := spec.canonical(c.lim, Info{Format: PNG, Width: 96, Height: 72}, h.alpha)
			require.NoError(t, err)

			putDone := make(chan struct{})
			var inUse, active atomic.Int64
			var renders atomic.Int32
			c.hooks.eagerRender = func(ctx context.Context) {
				renders.Add(1)
				inUse.Store(c.budget.inUse.Load())
				active.Store(c.budget.active.Load())
				<-ctx.Done() // the decode's deadline fires during the eager render
				if order == "after-put" {
					<-putDone
				}
			}
			decodes := countDecodes(c)
			info, err := c.Put(t.Context(), bytes.NewReader(src))
			close(putDone)
			require.NoError(t, err, "the proof succeeded: the Put stands")
			require.NoError(t, c.budget.waitIdle(t.Context()), "the decode goroutine ends")
			assert.Equal(t, int32(1), renders.Load())
			assert.Equal(t, int32(1), decodes.Load(), "the skipped rendition is not decoded again at Put")
			assert.Equal(t, int64(1), active.Load(), "the eager render runs inside the proof's one reservation")
			assert.GreaterOrEqual(t, inUse.Load(), putBytes(h, len(src))+renderBytes(h, cs),
				"the reservation covers the proof's pixels and the eager render together")
			assert.Zero(t, c.Stats().Renditions, "a rendition cut off by the deadline is not stored")
			assert.Contains(t, logs.String(), "eager rendition skipped")
			assert.Contains(t, logs.String(), "reason=deadline")

			// A Get renders it as on any miss.
			r, err := c.Get(t.Context(), info.ID, spec)
			require.NoError(t, err)
			readRendition(t, r)
			assert.Equal(t, 1, c.Stats().Renditions)
		})
	}
}

// TestEagerRenderPanicAfterProof: an eager render that panics after the proof succeeded
// is recovered; the Put stands and the rendition is skipped.
func TestEagerRenderPanicAfterProof(t *testing.T) {
	c := newTestCache(t, WithEagerRenditions(Spec{Width: 32}))
	c.hooks.eagerRender = func(context.Context) { panic("eager render") }
	info, err := c.Put(t.Context(), bytes.NewReader(fixture.PNG(96, 72)))
	require.NoError(t, err)
	assert.Zero(t, c.Stats().Renditions)
	_, err = c.Stat(t.Context(), info.ID)
	require.NoError(t, err)
}
