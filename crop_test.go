package fastimagecache

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

var (
	cropGray = color.NRGBA{128, 128, 128, 255}
	cropRed  = color.NRGBA{255, 0, 0, 255}
	cropBlue = color.NRGBA{0, 0, 255, 255}
)

// blocksPNG is a w×h gray PNG with the given solid rectangles drawn on it.
func blocksPNG(t *testing.T, w, h int, blocks map[image.Rectangle]color.NRGBA) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(cropGray), image.Point{}, draw.Src)
	for r, c := range blocks {
		draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// renderedPixel decodes a PNG rendition and returns its size and the colour at (x, y).
func renderedPixel(t *testing.T, c *Cache, id ID, s Spec, x, y int) (image.Point, color.NRGBA) {
	t.Helper()
	s.Format = PNG
	r, err := c.Get(t.Context(), id, s)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(readRendition(t, r)))
	require.NoError(t, err)
	return img.Bounds().Size(), color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
}

func near(a, b color.NRGBA) bool {
	d := func(x, y uint8) float64 { return math.Abs(float64(x) - float64(y)) }
	return d(a.R, b.R) < 40 && d(a.G, b.G) < 40 && d(a.B, b.B) < 40
}

// TestCoverCropGravity: a 300×300 image with a red block in its top-right corner and a
// blue one in its bottom-left; each gravity's crop keeps the block on its side.
func TestCoverCropGravity(t *testing.T) {
	c := newTestCache(t)
	info := put(t, c, blocksPNG(t, 300, 300, map[image.Rectangle]color.NRGBA{
		image.Rect(240, 0, 300, 60): cropRed,  // scaled by 1/3: (80,0)-(100,20)
		image.Rect(0, 240, 60, 300): cropBlue, // scaled by 1/3: (0,80)-(20,100)
	}))
	wide := Spec{Width: 100, Height: 50, Fit: Cover} // keeps 50 of 100 rows
	tall := Spec{Width: 50, Height: 100, Fit: Cover} // keeps 50 of 100 columns
	for _, tc := range []struct {
		name string
		spec Spec
		at   image.Point
		want color.NRGBA
	}{
		{"center wide: no red", wide, image.Pt(90, 10), cropGray},
		{"center wide: no blue", wide, image.Pt(10, 40), cropGray},
		{"north keeps the red block", withGravity(wide, North), image.Pt(90, 10), cropRed},
		{"northeast keeps the red block", withGravity(wide, NorthEast), image.Pt(90, 10), cropRed},
		{"northwest keeps the red block", withGravity(wide, NorthWest), image.Pt(90, 10), cropRed},
		{"south keeps the blue block", withGravity(wide, South), image.Pt(10, 40), cropBlue},
		{"southwest keeps the blue block", withGravity(wide, SouthWest), image.Pt(10, 40), cropBlue},
		{"center tall: no red", tall, image.Pt(40, 10), cropGray},
		{"east keeps the red block", withGravity(tall, East), image.Pt(40, 10), cropRed},
		{"west keeps the blue block", withGravity(tall, West), image.Pt(10, 90), cropBlue},
		{"southeast, tall: the right", withGravity(tall, SouthEast), image.Pt(40, 10), cropRed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size, got := renderedPixel(t, c, info.ID, tc.spec, tc.at.X, tc.at.Y)
			if tc.spec.Fit == Cover {
				require.Equal(t, image.Pt(tc.spec.Width, tc.spec.Height), size)
			}
			assert.True(t, near(tc.want, got), "pixel %v is %v, want %v", tc.at, got, tc.want)
		})
	}
}

func withGravity(s Spec, g Gravity) Spec { s.Gravity = g; return s }

// TestCoverCropFocalPoint: a 400×100 image with a red band at x 240..280; a 100×100 crop
// centred on fx = 0.65 (x 260) keeps it in its middle, where the centre crop has none.
func TestCoverCropFocalPoint(t *testing.T) {
	c := newTestCache(t)
	info := put(t, c, blocksPNG(t, 400, 100, map[image.Rectangle]color.NRGBA{image.Rect(240, 0, 280, 100): cropRed}))
	box := Spec{Width: 100, Height: 100, Fit: Cover}
	focal := box
	focal.FocusX, focal.FocusY = 0.65, 0.9 // crop x 210..310: the band at 30..70
	_, got := renderedPixel(t, c, info.ID, focal, 50, 50)
	assert.True(t, near(cropRed, got), "focal crop: %v", got)
	_, got = renderedPixel(t, c, info.ID, focal, 10, 50)
	assert.True(t, near(cropGray, got), "focal crop, left of the band: %v", got)
	_, got = renderedPixel(t, c, info.ID, box, 50, 50) // crop x 150..250
	assert.True(t, near(cropGray, got), "centre crop: %v", got)
	edge := box
	edge.FocusX = 0.99 // moved inside: the last 100 columns, x 300..400
	_, got = renderedPixel(t, c, info.ID, edge, 5, 50)
	assert.True(t, near(cropGray, got), "focal point at the edge: %v", got)
}

// TestCoverCropOrientedFrame: gravity and focal point are fractions of the oriented
// image: a JPEG stored 200×100 with EXIF orientation 6 is 100×200 once oriented; North
// and a focal point near the top keep its top, South its bottom, as the full-size
// (oriented) rendition shows them.
func TestCoverCropOrientedFrame(t *testing.T) {
	c := newTestCache(t)
	info := put(t, c, fixture.WithEXIFOrientation(fixture.JPEGQuadrants(200, 100), 6))
	size, top := renderedPixel(t, c, info.ID, Spec{}, 20, 20)
	require.Equal(t, image.Pt(100, 200), size)
	_, bottom := renderedPixel(t, c, info.ID, Spec{}, 20, 180)
	require.False(t, near(top, bottom))
	box := Spec{Width: 100, Height: 100, Fit: Cover}
	for _, tc := range []struct {
		spec Spec
		want color.NRGBA
	}{
		{withGravity(box, North), top},
		{Spec{Width: 100, Height: 100, Fit: Cover, FocusX: 0.5, FocusY: 0.2}, top},
		{withGravity(box, South), bottom},
		{Spec{Width: 100, Height: 100, Fit: Cover, FocusX: 0.3, FocusY: 0.8}, bottom},
	} {
		_, got := renderedPixel(t, c, info.ID, tc.spec, 20, 20+60*btoi(tc.want == bottom))
		assert.True(t, near(tc.want, got), "%+v: %v, want %v", tc.spec, got, tc.want)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestCropCanonical: gravity and focal point matter only for Cover, a focal point is
// kept to 1/1000 and one on a gravity's point is that gravity, and the key of a Spec
// without them is the one it always had (stored renditions keep their names).
func TestCropCanonical(t *testing.T) {
	lim := DefaultLimits()
	src := Info{Format: JPEG, Width: 400, Height: 300, Frames: 1}
	key := func(s Spec) string {
		t.Helper()
		cs, err := s.canonical(lim, src, false)
		require.NoError(t, err)
		return cs.key()
	}
	cover := Spec{Width: 100, Height: 100, Fit: Cover}
	assert.Equal(t, "v1 w=100 h=100 fit=cover fmt=jpeg q=82 enlarge=false", key(cover))
	with := func(g Gravity, fx, fy float64) Spec { s := cover; s.Gravity, s.FocusX, s.FocusY = g, fx, fy; return s }
	assert.Equal(t, key(cover), key(with(Center, 0.5, 0.5)), "a focal point at the centre")
	assert.Equal(t, key(with(NorthEast, 0, 0)), key(with(South, 1, 0)), "a focal point on a corner is that corner; it overrides gravity")
	assert.Equal(t, key(with(West, 0, 0.5)), key(with(Center, 0.0002, 0.5)), "quantised to 1/1000")
	assert.Equal(t, key(with(Center, 0.1234, 0.5)), key(with(Center, 0.12341, 0.5)))
	assert.NotEqual(t, key(with(Center, 0.123, 0.5)), key(with(Center, 0.124, 0.5)))
	assert.Equal(t, key(cover), key(with(Center, 0.0004, 0.0001)), "both round to 0: unset")
	assert.Equal(t, "v1 w=100 h=100 fit=cover fmt=jpeg q=82 enlarge=false fx=250 fy=750", key(with(North, 0.25, 0.75)))
	assert.Equal(t, "v1 w=100 h=100 fit=cover fmt=jpeg q=82 enlarge=false g=southwest", key(with(SouthWest, 0, 0)))
	contain := Spec{Width: 100, Height: 100, Gravity: North, FocusX: 0.3, FocusY: 0.3}
	assert.Equal(t, key(Spec{Width: 100, Height: 100}), key(contain), "ignored for Contain")
	assert.Equal(t, key(Spec{Width: 100}), key(Spec{Width: 100, Fit: Cover, Gravity: North}), "ignored where Cover is Contain")
	for _, bad := range []Spec{with(Gravity(10), 0, 0), with(Gravity(-1), 0, 0), with(Center, 1.5, 0), with(Center, 0.5, -0.1), with(Center, math.NaN(), 0.5), with(Center, 0.5, math.Inf(1))} {
		_, err := bad.canonical(lim, src, false)
		assert.ErrorIs(t, err, ErrInvalidSpec, "%+v", bad)
	}
}

// TestSignedCrop: the signed query carries g, fx and fy when set; URLs signed before
// they existed still verify; a changed crop parameter fails the signature.
func TestSignedCrop(t *testing.T) {
	c := newTestCache(t)
	info := put(t, c, blocksPNG(t, 400, 100, map[image.Rectangle]color.NRGBA{image.Rect(240, 0, 280, 100): cropRed}))
	key := []byte("crop key")
	h := c.Handler(HandlerOptions{SigningKey: key})
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	focal := Spec{Width: 100, Height: 100, Fit: Cover, Format: PNG, FocusX: 0.65, FocusY: 0.5}
	p := SignedPath(key, info.ID, focal)
	assert.Contains(t, p, "&fx=0.65&fy=0.5&sig=")
	rec := get(p)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	img, err := png.Decode(rec.Body)
	require.NoError(t, err)
	assert.True(t, near(cropRed, color.NRGBAModel.Convert(img.At(50, 50)).(color.NRGBA)), "the focal crop")

	g := SignedPath(key, info.ID, Spec{Width: 100, Height: 100, Fit: Cover, Gravity: SouthEast})
	assert.Contains(t, g, "&g=southeast&sig=")
	assert.Equal(t, http.StatusOK, get(g).Code)
	assert.Equal(t, http.StatusForbidden, get(strings.Replace(g, "g=southeast", "g=southwest", 1)).Code)
	assert.Equal(t, http.StatusForbidden, get(strings.Replace(p, "fx=0.65", "fx=0.66", 1)).Code)
	assert.Equal(t, http.StatusForbidden, get(strings.Replace(p, "&fx=0.65&fy=0.5", "", 1)).Code)
	for _, bad := range []string{"g=up", "g=North", "fx=0.1234", "fx=1.5", "fx=-0", "fx=.5", "fx=0.", "fx=1e-1", "fx=2"} {
		k, v, _ := strings.Cut(bad, "=")
		q := url.Values{}
		q.Set(k, v)
		assert.Equal(t, http.StatusBadRequest, get(strings.Replace(p, "&sig=", "&"+q.Encode()+"&sig=", 1)).Code, bad)
	}

	// The form of signed URLs from before gravity and focal points: still served.
	m := hmac.New(sha256.New, key)
	m.Write([]byte("fastimagecache/v1\x00" + string(info.ID) + "\x00w=100&h=100&fit=cover&fmt=png&q=0&enlarge=0"))
	old := "/" + string(info.ID) + "?w=100&h=100&fit=cover&fmt=png&q=0&enlarge=0&sig=" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	assert.Equal(t, old, SignedPath(key, info.ID, Spec{Width: 100, Height: 100, Fit: Cover, Format: PNG}))
	assert.Equal(t, http.StatusOK, get(old).Code)
}

func TestParsePermille(t *testing.T) {
	for s, want := range map[string]int{"0": 0, "1": 1000, "0.5": 500, "0.25": 250, "0.125": 125, "0.001": 1, "1.0": 1000, "1.000": 1000} {
		k, ok := parsePermille(s)
		assert.True(t, ok, s)
		assert.Equal(t, want, k, s)
		assert.Equal(t, strings.TrimRight(strings.TrimRight(s, "0"), "."), strings.TrimRight(strings.TrimRight(formatPermille(k), "0"), "."), s)
	}
	for _, s := range []string{"", "2", "1.001", "0.0001", "00", "0.", ".5", "0,5", "0.5x", "-0", "1e0"} {
		_, ok := parsePermille(s)
		assert.False(t, ok, s)
	}
}
