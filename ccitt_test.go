package fastimagecache

import (
	"context"
	"image"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// ccittLimits are the default limits with TIFF accepted.
func ccittLimits() Limits {
	lim := DefaultLimits()
	lim.Formats = append(lim.Formats, TIFF)
	return lim
}

// totalAlloc returns the bytes f allocates.
func totalAlloc(f func()) int64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc) // #nosec G115 -- a difference of two counters, far below 2^63
}

// TestCCITTDecodeBytesCoversAllocation decodes generated Group 3 and Group 4
// TIFFs of several shapes (one strip, many, one row a strip, narrow and wide,
// blank and busy, both fill orders) and checks that the reservation made from
// the header covers every byte the decode allocates, and overshoots it by no
// more than the file buffer's bound and twice the rest.
func TestCCITTDecodeBytesCoversAllocation(t *testing.T) {
	for _, tc := range []struct {
		w, h int
		o    fixture.CCITT
	}{
		{153, 55, fixture.CCITT{}},
		{153, 55, fixture.CCITT{Group4: true}},
		{1000, 1000, fixture.CCITT{Group4: true}},
		{1000, 1000, fixture.CCITT{RowsPerStrip: 37, LSBFirst: true}},
		{1000, 1000, fixture.CCITT{Group4: true, Blank: true, RowsPerStrip: 1}},
		{8, 4000, fixture.CCITT{Group4: true, Blank: true, RowsPerStrip: 1}},
		{3000, 2000, fixture.CCITT{Group4: true, RowsPerStrip: 64}},
		{3000, 2000, fixture.CCITT{BlackIsZero: true}},
		{16000, 300, fixture.CCITT{Group4: true, Blank: true, RowsPerStrip: 3}},
		{5000, 5000, fixture.CCITT{Group4: true, Blank: true}},
	} {
		data := fixture.TIFFCCITT(tc.w, tc.h, tc.o)
		h, err := inspect(data, putConfig{}, ccittLimits())
		require.NoError(t, err, "%+v", tc)
		est := h.decodeBytesFor(decodeOpts{})
		var dec decoded
		got := totalAlloc(func() { dec, err = decodeImage(context.Background(), data, h, decodeOpts{}) })
		require.NoError(t, err, "%+v", tc)
		require.IsType(t, &image.Gray{}, dec.img)
		assert.LessOrEqual(t, got, est, "%dx%d %+v: allocated %d, reserved %d", tc.w, tc.h, tc.o, got, est)
		slack := int64(ccittFixed + ccittFileFactor*len(data))
		assert.LessOrEqual(t, est, 2*got+slack, "%dx%d %+v: reserved %d for %d", tc.w, tc.h, tc.o, est, got)
		t.Logf("%dx%d %+v: %d bytes in the file, allocated %d, reserved %d", tc.w, tc.h, tc.o, len(data), got, est)
	}
}
