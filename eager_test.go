package fastimagecache

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	for _, s := range []Spec{{Width: -1}, {Width: 1 << 20}, {Quality: 101}, {Format: "heic"}, {Format: "svg"}, {Format: Auto, Width: 1 << 20}} {
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

// TestEagerRenditionsShareADecode: the demo's presets (two Auto Specs, so AVIF, WebP and
// JPEG each) on a JPEG the proof's 1/8 scale cannot serve: the six renditions that
// decode alike share a decode (thumb's three at 1/4, small's three at 1/2: three
// decodes with the proof, not seven), and each has the bytes a Get renders alone.
func TestEagerRenditionsShareADecode(t *testing.T) {
	presets := []Spec{{Width: 160, Height: 160, Fit: Cover, Format: Auto}, {Width: 320, Height: 320, Format: Auto}}
	in := fixture.JPEG(2400, 1600, 90)
	eager := newTestCache(t, WithEagerRenditions(presets...))
	lazy := newTestCache(t)
	decodes := countDecodes(eager)
	info := put(t, eager, in)
	assert.Equal(t, int32(3), decodes.Load(), "the proof, and one decode per scale for the six renditions")
	put(t, lazy, in)
	for _, s := range presets {
		for _, accept := range []string{"image/avif", "image/webp", ""} {
			r, err := eager.GetAccept(t.Context(), info.ID, s, accept)
			require.NoError(t, err)
			got := readRendition(t, r)
			r, err = lazy.GetAccept(t.Context(), info.ID, s, accept)
			require.NoError(t, err)
			assert.Equal(t, readRendition(t, r), got, "%+v %q", s, accept)
		}
	}
	assert.Equal(t, int32(3), decodes.Load(), "every Get was a hit")
	assert.Equal(t, 6, eager.Stats().Renditions)
}

// TestEagerRendersUseIdleCoresOnly: the renders of one decode run at once on the idle
// cores, as many as the budget holds beside the decode; while another job runs, or when
// the budget holds only one render beside the decode, one after the other.
func TestEagerRendersUseIdleCoresOnly(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two cores")
	}
	presets := []Spec{{Width: 100, Format: PNG}, {Width: 110, Format: PNG}, {Width: 120, Format: PNG}, {Width: 130, Format: PNG}}
	in := fixture.PNG(1200, 900)
	// overlap runs Put with the eager renders held at their start until a second one
	// arrives (or 1 s passes), and reports the most renders that were running at once.
	overlap := func(t *testing.T, c *Cache) int32 {
		var running, most atomic.Int32
		c.hooks.eagerRender = func(context.Context) {
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			for wait := time.Now().Add(time.Second); most.Load() < 2 && time.Now().Before(wait); {
				time.Sleep(time.Millisecond) // a second render, if one is coming, arrives meanwhile
			}
			running.Add(-1)
		}
		put(t, c, in)
		return most.Load()
	}
	t.Run("idle", func(t *testing.T) {
		c := newTestCache(t, WithEagerRenditions(presets...))
		assert.Equal(t, int32(2), overlap(t, c), "two cores, no other job: two renders at once")
	})
	t.Run("busy", func(t *testing.T) {
		c := newTestCache(t, WithEagerRenditions(presets...))
		for range runtime.GOMAXPROCS(0) - 1 {
			c.jobs.Add(1) // as if other jobs held the other cores
		}
		defer c.jobs.Add(-int32(runtime.GOMAXPROCS(0) - 1))
		assert.Equal(t, int32(1), overlap(t, c), "a loaded Cache renders one at a time")
	})
	t.Run("budget", func(t *testing.T) {
		h, err := inspect(in, putConfig{}, DefaultLimits())
		require.NoError(t, err)
		base := putBytes(h, len(in)*2)
		one := renderBytes(h, presets[3]) + decodeOverhead
		c := newTestCache(t, WithEagerRenditions(presets...),
			WithLimits(Limits{MemoryBudget: base + one + one/2})) // one render beside the proof, not two
		assert.Equal(t, int32(1), overlap(t, c), "the budget holds one render at a time")
	})
}
