package fastimagecache

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// countDecodes counts the decodes c starts from now on.
func countDecodes(c *Cache) *atomic.Int32 {
	var n atomic.Int32
	c.hooks.decodeStart = func(context.Context) { n.Add(1) }
	return &n
}

func TestEagerRenditions(t *testing.T) {
	thumb := Spec{Width: 160, Height: 160}                     // a 2600×1400 JPEG shrinks to 1/8 on load: the proving decode serves it
	large := Spec{Width: 600, Height: 600, Fit: Cover}         // needs 1/2: a decode of its own
	gifOut := Spec{Width: 40, Height: 40, Format: GIF}         // every frame of an animation
	again := Spec{Width: 160, Height: 160, Format: "", Fit: 0} // the same canonical rendition as thumb: rendered once
	specs := []Spec{thumb, large, gifOut, again}
	for _, tc := range []struct {
		name    string
		in      []byte
		decodes int32 // at Put, with the eager renditions
	}{
		{"jpeg", fixture.JPEG(2600, 1400, 90), 2},
		{"jpeg-exif6", fixture.WithEXIFOrientation(fixture.JPEG(1400, 2600, 90), 6), 2},
		{"png", fixture.PNG(700, 500), 1},
		{"animated-gif", fixture.GIF(120, 90, 5), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eager := newTestCache(t, WithEagerRenditions(specs...))
			lazy := newTestCache(t)
			putDecodes := countDecodes(eager)
			info := put(t, eager, tc.in)
			assert.Equal(t, tc.decodes, putDecodes.Load(), "decodes at Put: the proof, and one per rendition it cannot serve")
			require.Equal(t, info, put(t, lazy, tc.in))

			getDecodes := countDecodes(eager)
			misses := 0
			eager.hooks.getMiss = func() { misses++ }
			for _, s := range specs {
				r, err := eager.Get(t.Context(), info.ID, s)
				require.NoError(t, err)
				got := readRendition(t, r)
				r, err = lazy.Get(t.Context(), info.ID, s)
				require.NoError(t, err)
				assert.Equal(t, readRendition(t, r), got, "%+v: an eager rendition has the bytes Get renders", s)
			}
			assert.Zero(t, getDecodes.Load(), "the first Gets decoded")
			assert.Zero(t, misses, "the first Gets missed the store")
			assert.Equal(t, 3, eager.Stats().Renditions, "thumb and again are one rendition")

			// A second Put of the same bytes does nothing again.
			again := countDecodes(eager)
			put(t, eager, tc.in)
			assert.Zero(t, again.Load())
		})
	}
}

func TestEagerRenditionNeverFailsPut(t *testing.T) {
	var logs lockedBuffer
	// The budget holds the proof of a 1000×800 PNG, but not an enlarged 4000×4000 rendition.
	c := newTestCache(t,
		WithLimits(Limits{MemoryBudget: 24 << 20}),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		WithEagerRenditions(Spec{Width: 4000, Height: 4000, Enlarge: true}, Spec{Width: 100}))
	in := fixture.PNG(1000, 800)
	info := put(t, c, in)
	assert.Contains(t, logs.String(), "eager rendition skipped")
	assert.Contains(t, logs.String(), "reason=dimensions")

	_, err := c.Get(t.Context(), info.ID, Spec{Width: 4000, Height: 4000, Enlarge: true})
	require.ErrorIs(t, err, ErrDimensions, "Get meets the same limit")
	decodes := countDecodes(c)
	r, err := c.Get(t.Context(), info.ID, Spec{Width: 100})
	require.NoError(t, err)
	readRendition(t, r)
	assert.Zero(t, decodes.Load(), "the rendition the budget allowed was made at Put")
}

func TestEagerRenditionsOutOfLimits(t *testing.T) {
	for _, s := range []Spec{{Width: -1}, {Width: 1 << 20}, {Quality: 101}, {Format: "heic"}} {
		_, err := New(t.TempDir(), WithEagerRenditions(s))
		require.ErrorIs(t, err, ErrInvalidSpec, "%+v", s)
	}
}

// lockedBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Clone(l.b.String())
}
