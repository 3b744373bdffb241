package fastimagecache

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/thumbhash"
)

// gradientPNG is a w×h opaque PNG, red to blue left to right, dark to light top to bottom.
func gradientPNG(t *testing.T, w, h int) ([]byte, *image.NRGBA) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8(60 + 150*y/h)
			img.SetNRGBA(x, y, color.NRGBA{uint8(255 * (w - 1 - x) / max(1, w-1)), v, uint8(255 * x / max(1, w-1)), 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes(), img
}

// decodePlaceholder decodes Info.Placeholder back into pixels.
func decodePlaceholder(t *testing.T, p string) *image.NRGBA {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(p)
	require.NoError(t, err)
	w, h, pix, err := thumbhash.Decode(raw)
	require.NoError(t, err)
	return &image.NRGBA{Pix: pix, Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
}

// meanDiff is the mean absolute difference, per RGB channel in 0..255, between a
// placeholder and ref sampled at the same relative positions.
func meanDiff(ph *image.NRGBA, ref image.Image) float64 {
	pb, rb := ph.Bounds(), ref.Bounds()
	var sum float64
	for y := range pb.Dy() {
		for x := range pb.Dx() {
			a := ph.NRGBAAt(x, y)
			b := color.NRGBAModel.Convert(ref.At(rb.Min.X+(2*x+1)*rb.Dx()/(2*pb.Dx()), rb.Min.Y+(2*y+1)*rb.Dy()/(2*pb.Dy()))).(color.NRGBA)
			sum += math.Abs(float64(a.R)-float64(b.R)) + math.Abs(float64(a.G)-float64(b.G)) + math.Abs(float64(a.B)-float64(b.B))
		}
	}
	return sum / float64(3*pb.Dx()*pb.Dy())
}

func hexColor(t *testing.T, s string) color.NRGBA {
	t.Helper()
	require.Len(t, s, 7)
	var c color.NRGBA
	for i, p := range []*uint8{&c.R, &c.G, &c.B} {
		var v int
		for _, ch := range s[1+2*i : 3+2*i] {
			v = v*16 + int(bytes.IndexByte([]byte("0123456789abcdef"), byte(ch)))
		}
		*p = uint8(v)
	}
	c.A = 255
	return c
}

func averageOf(img image.Image) color.NRGBA {
	var r, g, b, n float64
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			r, g, b, n = r+float64(c.R), g+float64(c.G), b+float64(c.B), n+1
		}
	}
	return color.NRGBA{uint8(r / n), uint8(g / n), uint8(b / n), 255}
}

func colorClose(t *testing.T, want, got color.NRGBA, tol int, msg string) {
	t.Helper()
	d := func(a, b uint8) int { return max(int(a)-int(b), int(b)-int(a)) }
	assert.True(t, d(want.R, got.R) <= tol && d(want.G, got.G) <= tol && d(want.B, got.B) <= tol, "%s: %v, want %v", msg, got, want)
}

// TestPlaceholder: Put stores a ThumbHash that decodes back close to the image, and the
// image's average colour; Stat returns them as Put did.
func TestPlaceholder(t *testing.T) {
	c := newTestCache(t)
	for _, sz := range [][2]int{{640, 480}, {90, 300}, {3, 2}} {
		data, img := gradientPNG(t, sz[0], sz[1])
		info := put(t, c, data)
		require.NotEmpty(t, info.Placeholder, "%v", sz)
		ph := decodePlaceholder(t, info.Placeholder)
		assert.Less(t, meanDiff(ph, img), 20.0, "%v: the placeholder looks like the image", sz)
		assert.InDelta(t, float64(sz[0])/float64(sz[1]), float64(ph.Rect.Dx())/float64(ph.Rect.Dy()), 0.5, "%v: its shape", sz)
		colorClose(t, averageOf(img), hexColor(t, info.Color), 4, "average colour")
		got, err := c.Stat(t.Context(), info.ID)
		require.NoError(t, err)
		assert.Equal(t, info, got)
		assert.Equal(t, [2]int{sz[0], sz[1]}, [2]int{info.OrientedWidth, info.OrientedHeight})
	}
	// A JPEG: its proving decode is at 1/8 scale, which the placeholder comes from.
	info := put(t, c, fixture.JPEGQuadrants(400, 200))
	ph := decodePlaceholder(t, info.Placeholder)
	assert.Equal(t, color.Color(fixture.QuadrantTopLeft), nearestQuadrant(ph.NRGBAAt(1, 1)), "top left")
	assert.Equal(t, color.Color(fixture.QuadrantBottomRight), nearestQuadrant(ph.NRGBAAt(ph.Rect.Dx()-2, ph.Rect.Dy()-2)), "bottom right")
}

// TestPlaceholderOriented: the placeholder is of the oriented image, and Info gives the
// oriented size: a JPEG stored 200×100 with orientation 6 is 100×200, and its placeholder
// has the corner colours of the full-size rendition.
func TestPlaceholderOriented(t *testing.T) {
	c := newTestCache(t)
	info := put(t, c, fixture.WithEXIFOrientation(fixture.JPEGQuadrants(200, 100), 6))
	assert.Equal(t, [4]int{200, 100, 100, 200}, [4]int{info.Width, info.Height, info.OrientedWidth, info.OrientedHeight})
	r, err := c.Get(t.Context(), info.ID, Spec{Format: PNG})
	require.NoError(t, err)
	full, err := png.Decode(bytes.NewReader(readRendition(t, r)))
	require.NoError(t, err)
	ph := decodePlaceholder(t, info.Placeholder)
	assert.Less(t, ph.Rect.Dx(), ph.Rect.Dy(), "portrait")
	fb := full.Bounds()
	for _, p := range [][2]float64{{0.1, 0.1}, {0.9, 0.1}, {0.1, 0.9}, {0.9, 0.9}} {
		want := color.NRGBAModel.Convert(full.At(int(p[0]*float64(fb.Dx())), int(p[1]*float64(fb.Dy())))).(color.NRGBA)
		got := ph.NRGBAAt(int(p[0]*float64(ph.Rect.Dx())), int(p[1]*float64(ph.Rect.Dy())))
		assert.Equal(t, nearestQuadrant(want), nearestQuadrant(got), "corner %v: %v, rendition %v", p, got, want)
	}
}

// TestPlaceholderBoundedWork: the placeholder reads a fixed number of pixels, whatever
// the image's size.
func TestPlaceholderBoundedWork(t *testing.T) {
	for _, sz := range [][2]int{{4000, 3000}, {20000, 10}, {1, 1}} {
		img := &countingImage{Image: image.NewGray(image.Rect(0, 0, sz[0], sz[1]))}
		_, err := placeholderOf(img, 1)
		require.NoError(t, err)
		assert.LessOrEqual(t, img.reads, (placeholderSide*placeholderSamples)*(placeholderSide*placeholderSamples), "%v", sz)
	}
}

type countingImage struct {
	image.Image
	reads int
}

func (c *countingImage) At(x, y int) color.Color { c.reads++; return c.Image.At(x, y) }

// TestPlaceholderOldMetadata: metadata written before placeholders and orientation were
// recorded still works: Stat and Get serve it, and the orientation and the placeholder
// are rebuilt from the original (the placeholder by a proving decode, equal to Put's)
// and written back.
func TestPlaceholderOldMetadata(t *testing.T) {
	dir := t.TempDir()
	c := openDur(t, dir, diskOnly)
	src := fixture.WithEXIFOrientation(fixture.JPEGQuadrants(200, 100), 6)
	info := durPut(t, c, src)
	require.NoError(t, c.Close())
	old := `{"format":"jpeg","width":200,"height":100,"frames":1,"size":` + itoa(len(src)) + `,"alpha":false}`
	require.NoError(t, os.WriteFile(metaFile(dir, info.ID), []byte(old), 0o640))

	c = openDur(t, dir, diskOnly)
	got, err := c.Stat(t.Context(), info.ID)
	require.NoError(t, err)
	assert.Equal(t, [2]int{100, 200}, [2]int{got.OrientedWidth, got.OrientedHeight})
	require.NotEmpty(t, info.Placeholder)
	assert.Equal(t, info.Placeholder, got.Placeholder)
	assert.Equal(t, info.Color, got.Color)
	r, err := c.Get(t.Context(), info.ID, Spec{Width: 50})
	require.NoError(t, err)
	assert.Equal(t, [2]int{50, 100}, [2]int{r.Width, r.Height})
	readRendition(t, r)
	raw, err := os.ReadFile(metaFile(dir, info.ID))
	require.NoError(t, err)
	var m originalMeta
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Equal(t, 6, m.Orientation, "written back")
	assert.Equal(t, info.Placeholder, m.Placeholder, "written back")
	// A bad placeholder field is not served: the metadata is rebuilt with a new one.
	bad := `{"format":"jpeg","width":200,"height":100,"frames":1,"size":` + itoa(len(src)) + `,"orientation":6,"placeholder":"<script>","color":"red"}`
	require.NoError(t, c.Close())
	require.NoError(t, os.WriteFile(metaFile(dir, info.ID), []byte(bad), 0o640))
	c = openDur(t, dir, diskOnly)
	got, err = c.Stat(t.Context(), info.ID)
	require.NoError(t, err)
	assert.Equal(t, info.Placeholder, got.Placeholder)
	assert.Equal(t, info.Color, got.Color)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestUploadAnswersPlaceholder: the upload API's JSON carries the placeholder, colour and
// oriented size.
func TestUploadAnswersPlaceholder(t *testing.T) {
	c := newTestCache(t)
	h := c.Handler(HandlerOptions{AllowUpload: true})
	src := fixture.WithEXIFOrientation(fixture.JPEGQuadrants(200, 100), 6)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(src)))
	require.Equal(t, http.StatusCreated, rec.Code)
	var got map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	info, err := c.Stat(t.Context(), idOf(src))
	require.NoError(t, err)
	assert.Equal(t, info.Placeholder, got["placeholder"])
	assert.Equal(t, info.Color, got["color"])
	assert.Equal(t, 100.0, got["oriented_width"])
	assert.Equal(t, 200.0, got["oriented_height"])
}

// nearestQuadrant is the fixture.JPEGQuadrants colour nearest to c.
func nearestQuadrant(c color.Color) color.Color {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	best, bestD := color.Color(nil), math.MaxFloat64
	for _, q := range []color.RGBA{fixture.QuadrantTopLeft, fixture.QuadrantTopRight, fixture.QuadrantBottomLeft, fixture.QuadrantBottomRight} {
		d := math.Pow(float64(n.R)-float64(q.R), 2) + math.Pow(float64(n.G)-float64(q.G), 2) + math.Pow(float64(n.B)-float64(q.B), 2)
		if d < bestD {
			best, bestD = q, d
		}
	}
	return best
}
