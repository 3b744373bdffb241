package fastimagecache

import (
	"bytes"
	"image/color"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

func TestLimitsDefaults(t *testing.T) {
	l, err := Limits{MaxBytes: 5}.withDefaults()
	require.NoError(t, err)
	d := DefaultLimits()
	assert.Equal(t, int64(5), l.MaxBytes)
	assert.Equal(t, d.MaxPixels, l.MaxPixels)
	assert.Equal(t, d.MemoryBudget, l.MemoryBudget)
	assert.Equal(t, []Format{JPEG, PNG, GIF, WebP, AVIF}, l.Formats)
	assert.Equal(t, int64(32<<20), d.MaxBytes)
	assert.Equal(t, 16384, d.MaxWidth)
	assert.Equal(t, int64(50_000_000), d.MaxPixels)
	assert.Equal(t, 100, d.MaxFrames)
}

func TestCheckFrame(t *testing.T) {
	l := DefaultLimits()
	l.MaxPixels = 100
	l.MaxWidth, l.MaxHeight = 50, 60
	for _, tc := range []struct {
		w, h int
		ok   bool
	}{
		{10, 10, true},
		{10, 11, false}, // one row over MaxPixels
		{50, 2, true},
		{51, 1, false},
		{1, 60, true},
		{1, 61, false},
		{0, 5, false},
		{5, -1, false},
		{math.MaxInt32, math.MaxInt32, false},
	} {
		err := l.checkFrame(tc.w, tc.h)
		if tc.ok {
			assert.NoError(t, err, "%dx%d", tc.w, tc.h)
		} else {
			assert.ErrorIs(t, err, ErrDimensions, "%dx%d", tc.w, tc.h)
		}
	}
	assert.NoError(t, l.checkAnimation(100, 200_000_000))
	assert.ErrorIs(t, l.checkAnimation(101, 1), ErrDimensions)
	assert.ErrorIs(t, l.checkAnimation(1, 200_000_001), ErrDimensions)
}

// Every limit, in every format, at the limit and one over. Over it, the input must be
// refused from its header alone: forbidDecode fails the test if any decoder starts, so a
// missing header check cannot hide behind a later one (or behind the decoder's own).
func TestPutLimitsAtTheEdge(t *testing.T) {
	lim := Limits{MaxPixels: 1 << 20, MaxFrames: 10, MaxTotalPixels: 1 << 20, MaxWidth: 2048, MaxHeight: 2048,
		Formats: []Format{JPEG, PNG, GIF, WebP, BMP, TIFF}}
	accept := newTestCache(t, WithLimits(lim))
	refuse := newTestCache(t, WithLimits(lim))
	forbidDecode(t, refuse)
	solid := color.NRGBA{R: 9, G: 99, B: 199, A: 255}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"png at MaxPixels", fixture.PNG(1024, 1024), nil},
		{"png one row over", fixture.PNG(1024, 1025), ErrDimensions},
		{"png at MaxWidth", fixture.PNG(2048, 2), nil},
		{"png one column over MaxWidth", fixture.PNG(2049, 2), ErrDimensions},
		{"png one row over MaxHeight", fixture.PNG(2, 2049), ErrDimensions},
		{"jpeg at MaxPixels", fixture.JPEG(1024, 1024, 80), nil},
		{"jpeg one row over", fixture.JPEG(1024, 1025, 80), ErrDimensions},
		{"jpeg one column over MaxWidth", fixture.JPEG(2049, 8, 80), ErrDimensions},
		{"gif at MaxFrames", fixture.GIFManyFrames(10), nil},
		{"gif one frame over", fixture.GIFManyFrames(11), ErrDimensions},
		{"gif at MaxTotalPixels", fixture.GIF(512, 512, 4), nil},
		{"gif one row over MaxTotalPixels", fixture.GIF(512, 513, 4), ErrDimensions},
		{"gif at MaxPixels", fixture.GIF(1024, 1024, 1), nil},
		{"gif one row over", fixture.GIF(1024, 1025, 1), ErrDimensions},
		{"webp at MaxPixels", fixture.WebPLossless(1024, 1024, solid), nil},
		{"webp one row over", fixture.WebPLossless(1024, 1025, solid), ErrDimensions},
		{"bmp at MaxPixels", fixture.BMP(1024, 1024), nil},
		{"bmp one row over", fixture.BMP(1024, 1025), ErrDimensions},
		{"tiff at MaxPixels", fixture.TIFF(1024, 1024), nil},
		{"tiff one row over", fixture.TIFF(1024, 1025), ErrDimensions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == nil {
				_, err := accept.Put(t.Context(), bytes.NewReader(tc.in))
				require.NoError(t, err)
				return
			}
			_, err := refuse.Put(t.Context(), bytes.NewReader(tc.in))
			require.ErrorIs(t, err, tc.want)
		})
	}
	assert.Zero(t, refuse.store.Stats().Originals)
}
