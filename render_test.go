package fastimagecache

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGeometry(t *testing.T) {
	for _, tc := range []struct {
		sw, sh         int
		spec           Spec
		rw, rh, ow, oh int
	}{
		{400, 200, Spec{}, 400, 200, 400, 200},
		{400, 200, Spec{Width: 100}, 100, 50, 100, 50},
		{400, 200, Spec{Height: 100}, 200, 100, 200, 100},
		{400, 200, Spec{Width: 100, Height: 100}, 100, 50, 100, 50},
		{400, 200, Spec{Width: 100, Height: 100, Fit: Cover}, 200, 100, 100, 100},
		// Never upscaled unless asked.
		{400, 200, Spec{Width: 800}, 400, 200, 400, 200},
		{400, 200, Spec{Width: 800, Height: 800, Fit: Cover}, 400, 200, 400, 200},
		{400, 200, Spec{Width: 1000, Height: 100, Fit: Cover}, 400, 200, 400, 100},
		{400, 200, Spec{Width: 800, Enlarge: true}, 800, 400, 800, 400},
		{400, 200, Spec{Width: 800, Height: 800, Fit: Cover, Enlarge: true}, 1600, 800, 800, 800},
		// Extreme aspect ratios keep at least one pixel.
		{10000, 1, Spec{Width: 100}, 100, 1, 100, 1},
		{1, 10000, Spec{Height: 100}, 1, 100, 1, 100},
		// Rounding lands exactly on the constrained axis.
		{333, 777, Spec{Width: 100}, 100, 233, 100, 233},
	} {
		rw, rh, ow, oh := geometry(tc.sw, tc.sh, tc.spec)
		assert.Equal(t, [4]int{tc.rw, tc.rh, tc.ow, tc.oh}, [4]int{rw, rh, ow, oh}, "%dx%d %+v", tc.sw, tc.sh, tc.spec)
	}
}

func TestCanonicalSpec(t *testing.T) {
	lim := DefaultLimits()
	jpegSrc := Info{Format: JPEG}
	same := []Spec{
		{Width: 100},
		{Width: 100, Fit: Cover},
		{Width: 100, Format: JPEG},
		{Width: 100, Quality: defaultJPEGQuality},
	}
	var keys []string
	for _, s := range same {
		cs, err := s.canonical(lim, jpegSrc, false)
		require.NoError(t, err)
		keys = append(keys, renditionKey(ID("x"), cs))
	}
	for _, k := range keys {
		assert.Equal(t, keys[0], k)
	}
	for _, s := range []Spec{{Width: 101}, {Width: 100, Quality: 50}, {Width: 100, Format: PNG}, {Width: 100, Height: 100}, {Width: 100, Enlarge: true}} {
		cs, err := s.canonical(lim, jpegSrc, false)
		require.NoError(t, err)
		assert.NotEqual(t, keys[0], renditionKey(ID("x"), cs), "%+v", s)
	}
	// Quality means nothing for PNG.
	a, _ := Spec{Format: PNG, Quality: 10}.canonical(lim, jpegSrc, false)
	b, _ := Spec{Format: PNG}.canonical(lim, jpegSrc, false)
	assert.Equal(t, a, b)
}

func TestDefaultOutput(t *testing.T) {
	assert.Equal(t, JPEG, defaultOutput(JPEG, false))
	assert.Equal(t, PNG, defaultOutput(PNG, true))
	assert.Equal(t, GIF, defaultOutput(GIF, true))
	assert.Equal(t, JPEG, defaultOutput(WebP, false))
	assert.Equal(t, PNG, defaultOutput(WebP, true))
	assert.Equal(t, PNG, defaultOutput(TIFF, true))
	assert.Equal(t, JPEG, defaultOutput(BMP, false))
}
