package fastimagecache

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLimitsDefaults(t *testing.T) {
	l, err := Limits{MaxBytes: 5}.withDefaults()
	require.NoError(t, err)
	d := DefaultLimits()
	assert.Equal(t, int64(5), l.MaxBytes)
	assert.Equal(t, d.MaxPixels, l.MaxPixels)
	assert.Equal(t, d.MemoryBudget, l.MemoryBudget)
	assert.Equal(t, []Format{JPEG, PNG, GIF, WebP}, l.Formats)
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
