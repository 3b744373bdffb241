package fastimagecache

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/sandbox"
)

// streamShapes are PNG layouts the streamed render takes (every pngdec row layout).
var streamShapes = []fixture.PNGShape{
	{ColorType: 0, BitDepth: 8},
	{ColorType: 0, BitDepth: 1, TRNS: true},
	{ColorType: 2, BitDepth: 8},
	{ColorType: 2, BitDepth: 16, TRNS: true},
	{ColorType: 4, BitDepth: 8},
	{ColorType: 6, BitDepth: 8},
	{ColorType: 6, BitDepth: 16},
	{ColorType: 3, BitDepth: 2, TRNS: true},
	{ColorType: 3, BitDepth: 8},
}

// TestStreamedPNGMatchesFullDecode: a PNG rendition much smaller than its source,
// decoded row by row into the pre-shrink, has the pixels of the full decode's render
// within 3 levels (premultiplied: the tolerance resize's tests allow between its
// interleaved paths and imaging), at the same size, for every row layout and a crop.
func TestStreamedPNGMatchesFullDecode(t *testing.T) {
	lim := DefaultLimits()
	ctx := context.Background()
	for _, sh := range streamShapes {
		sh.Width, sh.Height = 1203, 901
		data := fixture.PNGRaw(sh)
		h, err := inspect(data, putConfig{}, lim)
		require.NoError(t, err)
		for _, s := range []Spec{{Width: 160, Height: 160, Fit: Cover, Format: PNG}, {Width: 300, Format: PNG}} {
			t.Run(fmt.Sprintf("ct%d-%d-trns%v/%dx%d", sh.ColorType, sh.BitDepth, sh.TRNS, s.Width, s.Height), func(t *testing.T) {
				cs, err := s.canonical(lim, Info{Format: h.format, Width: h.width, Height: h.height}, h.alpha)
				require.NoError(t, err)
				require.True(t, streamsPNG(h, cs), "not streamed")
				got, err := render(ctx, data, h, cs)
				require.NoError(t, err)
				dec, err := decodeImage(ctx, data, h, renderOpts(h, cs))
				require.NoError(t, err)
				want, err := renderDecoded(ctx, dec, h, cs)
				require.NoError(t, err)
				gi, wi := decodePNGOut(t, got.data), decodePNGOut(t, want.data)
				require.Equal(t, wi.Bounds(), gi.Bounds())
				worst := 0
				for y := range wi.Bounds().Dy() {
					for x := range wi.Bounds().Dx() {
						// Premultiplied: a colour under little alpha is little of the picture
						// (and rounds coarsely once divided by it).
						a := color.RGBAModel.Convert(gi.At(x, y)).(color.RGBA)
						b := color.RGBAModel.Convert(wi.At(x, y)).(color.RGBA)
						for _, d := range []int{int(a.R) - int(b.R), int(a.G) - int(b.G), int(a.B) - int(b.B), int(a.A) - int(b.A)} {
							worst = max(worst, d, -d)
						}
					}
				}
				t.Logf("worst difference %d", worst)
				assert.LessOrEqual(t, worst, 3, "streamed render differs from the full decode's")
			})
		}
	}
}

func decodePNGOut(t *testing.T, b []byte) image.Image {
	t.Helper()
	m, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	return m
}

// TestStreamedPNGHoldsNoFrame: the streamed render of a 2400×1800 RGBA PNG allocates
// a fraction of the decoded frame (which the full decode allocates whole), and no more
// than its reservation: at 160 px wide, where the boxes are small, and at 600 (the
// least shrink that streams), where they are most of the render.
func TestStreamedPNGHoldsNoFrame(t *testing.T) {
	if sandbox.RaceEnabled {
		t.Skip("allocation is measured without the race detector (see TestReservationCoversAllocation)")
	}
	data := fixture.PNG(2400, 1800)
	lim := DefaultLimits()
	h, err := inspect(data, putConfig{}, lim)
	require.NoError(t, err)
	frame := int64(4 * h.width * h.height)
	for _, c := range []struct {
		width int
		most  int64
	}{{160, frame / 8}, {600, frame / 2}} {
		cs, err := Spec{Width: c.width, Format: PNG}.canonical(lim, Info{Format: h.format, Width: h.width, Height: h.height}, h.alpha)
		require.NoError(t, err)
		var rerr error
		got := totalAlloc(func() { _, rerr = render(context.Background(), data, h, cs) })
		require.NoError(t, rerr)
		reserved := (&Cache{}).renderNeed(h, cs, len(data)) - int64(len(data))
		t.Logf("%d px: allocated %d, reserved %d, frame %d", c.width, got, reserved, frame)
		assert.Less(t, got, c.most, "%d px: the render built the full frame", c.width)
		assert.LessOrEqual(t, got, reserved, "%d px", c.width)
	}
}
