package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

func TestContainSize(t *testing.T) {
	for _, tc := range []struct{ w, h, size, rw, rh int }{
		{4000, 3000, 320, 320, 240},
		{5640, 3172, 320, 320, 180},
		{3172, 5640, 320, 180, 320},
		{300, 200, 320, 300, 200}, // not enlarged
		{1280, 1280, 320, 320, 320},
	} {
		rw, rh := containSize(tc.w, tc.h, tc.size)
		assert.Equal(t, [2]int{tc.rw, tc.rh}, [2]int{rw, rh}, "%d×%d in %d", tc.w, tc.h, tc.size)
	}
}

func TestMemBoundsAndColdAllocs(t *testing.T) {
	data := fixture.JPEG(2000, 1000, 90) // baseline 4:2:0
	photos := []photo{{name: "p.jpg", data: data, w: 2000, h: 1000}}
	bounds, err := memBounds(photos, 320)
	require.NoError(t, err)
	// Decoded at 1/2 with 16×16 MCUs: 125×63 MCUs, 6 blocks each of 4×4 bytes.
	assert.Equal(t, photoBound{scale: 2, scaled: 125 * 63 * 6 * 16, bound: int64(len(data)) + 125*63*6*16*3/2 + memSlack}, bounds[0])

	allocs := make([]uint64, 1)
	spec := fastimagecache.Spec{Width: 320, Height: 320, Format: fastimagecache.JPEG, Quality: 82}
	require.NoError(t, coldAllocs(t.Context(), photos, spec, allocs))
	assert.Greater(t, float64(allocs[0]), float64(bounds[0].scaled), "the decode's planes are part of the Get")
}

// TestProgressiveMemBound1280 checks issue 17's memory bound (input + 1.5× the scaled
// planes + 8 MiB, the allocation measured by runtime metrics as the bench's) for a
// progressive 4:2:0 photo made 1280 px, which half its size would not cover, so that it
// is decoded at full scale: the case where the coefficient store costs most.
func TestProgressiveMemBound1280(t *testing.T) {
	data := fixture.JPEGFlatProgressive420(2400, 1600)
	photos := []photo{{name: "p.jpg", data: data, w: 2400, h: 1600}}
	bounds, err := memBounds(photos, 1280)
	require.NoError(t, err)
	require.Equal(t, 1, bounds[0].scale, "decoded at full scale")
	allocs := make([]uint64, 1)
	spec := fastimagecache.Spec{Width: 1280, Height: 1280, Format: fastimagecache.JPEG, Quality: 82}
	require.NoError(t, coldAllocs(t.Context(), photos, spec, allocs))
	t.Logf("allocated %.1f MiB, bound %.1f MiB", mib(allocs[0]), float64(bounds[0].bound)/(1<<20))
	assert.LessOrEqual(t, allocs[0], uint64(bounds[0].bound))
}
