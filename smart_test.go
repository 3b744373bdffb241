package fastimagecache

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// busySubjectPNG is a w×h flat gray image with a busy, saturated subject (a red and
// yellow checkerboard) in the square of side n at (x, y).
func busySubjectPNG(t *testing.T, w, h, x, y, n int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(cropGray), image.Point{}, draw.Src)
	for j := y; j < y+n; j++ {
		for i := x; i < x+n; i++ {
			c := cropRed
			if (i/4+j/4)%2 == 1 {
				c = color.NRGBA{255, 220, 0, 255}
			}
			img.SetNRGBA(i, j, c)
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// saturated reports whether c is far from gray: part of the subject.
func saturated(c color.NRGBA) bool {
	return int(c.R)-int(c.B) > 100
}

// TestSmartCropKeepsSubject: a 600×200 image, flat gray but for a busy, saturated square
// near its left edge; a 200×200 Cover crop at Smart gravity keeps the square, the centre
// crop does not; the same off-centre square in a tall image, and a flat image crops as
// Center does.
func TestSmartCropKeepsSubject(t *testing.T) {
	c := newTestCache(t)
	wide := put(t, c, busySubjectPNG(t, 600, 200, 40, 60, 80)) // subject at x 40..120
	square := Spec{Width: 200, Height: 200, Fit: Cover}
	smart := withGravity(square, Smart)

	_, centre := renderedPixel(t, c, wide.ID, square, 100, 100)
	assert.False(t, saturated(centre), "the centre crop (x 200..400) misses the subject: %v", centre)
	size, got := renderedPixel(t, c, wide.ID, smart, 80, 100) // the crop starts at x 0
	assert.Equal(t, image.Pt(200, 200), size)
	assert.True(t, saturated(got), "the smart crop keeps the subject: %v", got)

	tall := put(t, c, busySubjectPNG(t, 200, 600, 60, 480, 80)) // subject at y 480..560
	_, centre = renderedPixel(t, c, tall.ID, square, 100, 120)
	assert.False(t, saturated(centre), "%v", centre)
	_, got = renderedPixel(t, c, tall.ID, smart, 100, 120) // the crop ends at y 600
	assert.True(t, saturated(got), "%v", got)

	// Flat: the smart crop is the centre crop, pixel for pixel.
	flat := put(t, c, blocksPNG(t, 600, 200, map[image.Rectangle]color.NRGBA{image.Rect(290, 0, 310, 200): cropBlue}))
	_, a := renderedPixel(t, c, flat.ID, square, 100, 100)
	_, b := renderedPixel(t, c, flat.ID, smart, 100, 100)
	assert.True(t, near(cropBlue, a) && near(cropBlue, b), "centre %v, smart %v", a, b)
}

// readCounter counts the pixels read from it.
type readCounter struct {
	image.Image
	reads int
}

func (c *readCounter) At(x, y int) color.Color { c.reads++; return c.Image.At(x, y) }

// TestSmartFocusBoundedWork: choosing the point reads at most smartSide² pixels, however
// large the image, and still finds the subject.
func TestSmartFocusBoundedWork(t *testing.T) {
	for _, sz := range []image.Point{{4000, 1000}, {1000, 4000}, {101, 99}, {30, 20}} {
		img := image.NewNRGBA(image.Rect(0, 0, sz.X, sz.Y))
		draw.Draw(img, img.Bounds(), image.NewUniform(cropGray), image.Point{}, draw.Src)
		n := min(sz.X, sz.Y) / 2
		for j := range n {
			for i := range n {
				if (i/2+j/2)%2 == 0 {
					img.SetNRGBA(sz.X-n+i, sz.Y-n+j, cropRed) // the bottom-right corner
				}
			}
		}
		ci := &readCounter{Image: img}
		fx, fy := smartFocus(ci, n, n)
		assert.LessOrEqual(t, ci.reads, smartSide*smartSide, "%v", sz)
		assert.Greater(t, fx, 600, "%v", sz)
		assert.Greater(t, fy, 600, "%v", sz)
	}
}

// TestSignedSmartCrop: g=smart is part of the key and the signed query.
func TestSignedSmartCrop(t *testing.T) {
	c := newTestCache(t)
	info := put(t, c, busySubjectPNG(t, 600, 200, 40, 60, 80))
	key := []byte("smart key")
	h := c.Handler(HandlerOptions{SigningKey: key})
	spec := Spec{Width: 200, Height: 200, Fit: Cover, Format: PNG, Gravity: Smart}
	p := SignedPath(key, info.ID, spec)
	assert.Contains(t, p, "&g=smart&sig=")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	img, err := png.Decode(rec.Body)
	require.NoError(t, err)
	assert.True(t, saturated(color.NRGBAModel.Convert(img.At(80, 100)).(color.NRGBA)))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, strings.Replace(p, "g=smart", "g=center", 1), nil))
	assert.Equal(t, http.StatusForbidden, rec.Code)

	lim := DefaultLimits()
	src := Info{Format: PNG, Width: 600, Height: 200, Frames: 1}
	cs, err := spec.canonical(lim, src, false)
	require.NoError(t, err)
	assert.Equal(t, "v1 w=200 h=200 fit=cover fmt=png q=0 enlarge=false g=smart", cs.key())
	spec.FocusX, spec.FocusY = 0.25, 0.5
	cs, err = spec.canonical(lim, src, false)
	require.NoError(t, err)
	assert.NotContains(t, cs.key(), "smart", "a focal point overrides Smart")
}

// TestSmartCropAnimationHoldsItsPoint: every frame of an animation crops where the first
// frame's subject chose, so the crop does not jump from frame to frame: here the subject
// moves from the left end to the right end, and the second frame's crop stays at the left.
func TestSmartCropAnimationHoldsItsPoint(t *testing.T) {
	pal := color.Palette{cropGray, cropRed, color.NRGBA{255, 220, 0, 255}}
	frame := func(x0 int) *image.Paletted {
		p := image.NewPaletted(image.Rect(0, 0, 300, 100), pal)
		for j := 20; j < 80; j++ {
			for i := x0; i < x0+60; i++ {
				p.SetColorIndex(i, j, uint8(1+(i/4+j/4)%2))
			}
		}
		return p
	}
	var buf bytes.Buffer
	require.NoError(t, gif.EncodeAll(&buf, &gif.GIF{Image: []*image.Paletted{frame(10), frame(230)}, Delay: []int{10, 10}}))
	c := newTestCache(t)
	info := put(t, c, buf.Bytes())
	r, err := c.Get(t.Context(), info.ID, Spec{Width: 100, Height: 100, Fit: Cover, Format: GIF, Gravity: Smart})
	require.NoError(t, err)
	g, err := gif.DecodeAll(bytes.NewReader(readRendition(t, r)))
	require.NoError(t, err)
	require.Len(t, g.Image, 2)
	at := func(i int) color.NRGBA { return color.NRGBAModel.Convert(g.Image[i].At(40, 50)).(color.NRGBA) }
	assert.True(t, saturated(at(0)), "the first frame's crop holds its subject: %v", at(0))
	assert.False(t, saturated(at(1)), "the second frame crops at the same place: %v", at(1))
}
