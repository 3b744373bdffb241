package fastimagecache

import (
	"bytes"
	"image"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// srcsetServe fetches every URL of a srcset value through h mounted at /img, and returns
// each descriptor with the size of what was served.
func srcsetServe(t *testing.T, h http.Handler, srcset string) (descs []string, sizes []image.Point) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/img/", http.StripPrefix("/img", h))
	for _, entry := range strings.Split(srcset, ", ") {
		u, desc, ok := strings.Cut(entry, " ")
		require.True(t, ok, entry)
		require.True(t, strings.HasPrefix(u, "/img/"), u)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u, nil))
		require.Equal(t, http.StatusOK, rec.Code, "%s: %s", u, rec.Body.String())
		cfg, _, err := image.DecodeConfig(bytes.NewReader(rec.Body.Bytes()))
		require.NoError(t, err)
		descs = append(descs, desc)
		sizes = append(sizes, image.Pt(cfg.Width, cfg.Height))
	}
	return descs, sizes
}

var _ = jpeg.Decode // image.DecodeConfig reads JPEG renditions

// TestSrcSet: every URL verifies against the Handler and renders the width its
// descriptor states; widths over the limits are left out, and those the image cannot
// fill are listed once, at its own width.
func TestSrcSet(t *testing.T) {
	c := newTestCache(t, WithLimits(Limits{MaxWidth: 1000, MaxHeight: 1000}))
	key := []byte("srcset key")
	h := c.Handler(HandlerOptions{SigningKey: key})
	info := put(t, c, fixture.JPEG(640, 480, 90))

	set, err := c.SrcSet(key, "/img/", info, Spec{}, 400, 100, 200, 0, -5, 800, 900, 2000)
	require.NoError(t, err)
	descs, sizes := srcsetServe(t, h, set)
	assert.Equal(t, []string{"100w", "200w", "400w", "640w"}, descs, set)
	for i, d := range descs {
		w, _ := strconv.Atoi(strings.TrimSuffix(d, "w"))
		assert.Equal(t, w, sizes[i].X, "%s renders its width", d)
		assert.Equal(t, w*3/4, sizes[i].Y)
	}

	// A box keeps its shape; a Cover crop with a gravity keeps it too.
	set, err = c.SrcSet(key, "/img", info, Spec{Width: 100, Height: 50, Fit: Cover, Gravity: North}, 100, 300)
	require.NoError(t, err)
	assert.Contains(t, set, "&g=north&")
	descs, sizes = srcsetServe(t, h, set)
	assert.Equal(t, []string{"100w", "300w"}, descs)
	assert.Equal(t, []image.Point{{100, 50}, {300, 150}}, sizes)

	// Enlarge lets the widths past the image's own.
	set, err = c.SrcSet(key, "/img", info, Spec{Enlarge: true}, 800, 900)
	require.NoError(t, err)
	descs, sizes = srcsetServe(t, h, set)
	assert.Equal(t, []string{"800w", "900w"}, descs)
	assert.Equal(t, []image.Point{{800, 600}, {900, 675}}, sizes)

	// The oriented width counts: a JPEG stored 200×100 with orientation 6 is 100 wide.
	rot := put(t, c, fixture.WithEXIFOrientation(fixture.JPEGQuadrants(200, 100), 6))
	set, err = c.SrcSet(key, "/img", rot, Spec{}, 50, 150)
	require.NoError(t, err)
	descs, sizes = srcsetServe(t, h, set)
	assert.Equal(t, []string{"50w", "100w"}, descs)
	assert.Equal(t, []image.Point{{50, 100}, {100, 200}}, sizes)

	set, err = c.SrcSet(key, "/img", info, Spec{}, 5000)
	require.NoError(t, err)
	assert.Empty(t, set)
	_, err = c.SrcSet(key, "/img", info, Spec{Format: "svg"}, 100)
	require.ErrorIs(t, err, ErrInvalidSpec)
	_, err = c.SrcSet(key, "/img", Info{ID: "nope"}, Spec{}, 100)
	require.ErrorIs(t, err, ErrInvalidSpec)
}

// TestSrcSetDensities: 1x, 2x and 3x of a spec; every URL verifies and renders the
// density its descriptor states; what the image cannot fill gets the density it reaches.
func TestSrcSetDensities(t *testing.T) {
	c := newTestCache(t, WithLimits(Limits{MaxWidth: 1000, MaxHeight: 1000}))
	key := []byte("srcset key")
	h := c.Handler(HandlerOptions{SigningKey: key})
	info := put(t, c, fixture.JPEG(640, 480, 90))
	spec := Spec{Width: 100, Height: 100, Fit: Cover, FocusX: 0.25, FocusY: 0.5}

	set, err := c.SrcSetDensities(key, "/img", info, spec, 3, 1, 2)
	require.NoError(t, err)
	descs, sizes := srcsetServe(t, h, set)
	assert.Equal(t, []string{"1x", "2x", "3x"}, descs, set)
	assert.Equal(t, []image.Point{{100, 100}, {200, 200}, {300, 300}}, sizes)

	small := put(t, c, fixture.JPEG(240, 180, 90))
	set, err = c.SrcSetDensities(key, "/img", small, Spec{Width: 100}, 1, 2, 3, 4)
	require.NoError(t, err)
	descs, sizes = srcsetServe(t, h, set)
	assert.Equal(t, []string{"1x", "2x", "2.4x"}, descs, set)
	assert.Equal(t, []image.Point{{100, 75}, {200, 150}, {240, 180}}, sizes)

	set, err = c.SrcSetDensities(key, "/img", info, Spec{Width: 400}, 1, 2, 3)
	require.NoError(t, err)
	descs, _ = srcsetServe(t, h, set)
	assert.Equal(t, []string{"1x", "1.6x"}, descs, "3x (1200) is over MaxWidth; 2x reaches the image's 640")

	_, err = c.SrcSetDensities(key, "/img", info, Spec{}, 1, 2)
	require.ErrorIs(t, err, ErrInvalidSpec)
}

// TestSrcSetAuto: a spec whose format is negotiated (Auto) lists fmt=auto URLs, each served
// in the format the request's Accept picks, at its descriptor's width.
func TestSrcSetAuto(t *testing.T) {
	c := newTestCache(t)
	key := []byte("srcset key")
	h := c.Handler(HandlerOptions{SigningKey: key})
	info := put(t, c, fixture.JPEG(640, 480, 90))

	set, err := c.SrcSet(key, "/img/", info, Spec{Width: 64, Height: 64, Fit: Cover, Format: Auto}, 64, 128)
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(set, "fmt=auto"), set)
	descs, sizes := srcsetServe(t, h, set)
	assert.Equal(t, []string{"64w", "128w"}, descs)
	assert.Equal(t, []image.Point{{64, 64}, {128, 128}}, sizes)

	set, err = c.SrcSetDensities(key, "/img/", info, Spec{Width: 50, Format: Auto}, 1, 2)
	require.NoError(t, err)
	descs, _ = srcsetServe(t, h, set)
	assert.Equal(t, []string{"1x", "2x"}, descs)
}
