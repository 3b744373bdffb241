package fastimagecache

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/sandbox"
)

// ccittLimits are the default limits with TIFF accepted.
func ccittLimits() Limits {
	lim := DefaultLimits()
	lim.Formats = append(lim.Formats, TIFF)
	return lim
}

// TestCCITTDecodeBytesCoversAllocation decodes generated Group 3 and Group 4
// TIFFs of several shapes (one strip, many, one row a strip, narrow and wide,
// blank and busy, both fill orders, tiles up to the tile cap) and checks that the reservation made from
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
		{1000, 700, fixture.CCITT{Group4: true, Tile: 256}},
		{2048, 2048, fixture.CCITT{Group4: true, Blank: true, Tile: 8}}, // 65536 tiles, the cap
	} {
		data := fixture.TIFFCCITT(tc.w, tc.h, tc.o)
		h, err := inspect(data, putConfig{}, ccittLimits())
		require.NoError(t, err, "%+v", tc)
		est := h.decodeBytesFor(decodeOpts{})
		var dec decoded
		got := totalAlloc(func() { dec, err = decodeImage(context.Background(), data, h, decodeOpts{}) })
		require.NoError(t, err, "%+v", tc)
		require.IsType(t, &image.Gray{}, dec.img)
		if sandbox.RaceEnabled {
			// The race detector's instrumentation turns off the compiler's fusing of
			// append(nil, make(...)...), so every growth of the decoder's buffers allocates
			// twice: the plain run checks the numbers, this one only looks for races.
			continue
		}
		assert.LessOrEqual(t, got, est, "%dx%d %+v: allocated %d, reserved %d", tc.w, tc.h, tc.o, got, est)
		slack := int64(ccittFixed + ccittFileFactor*len(data))
		assert.LessOrEqual(t, est, 2*got+slack, "%dx%d %+v: reserved %d for %d", tc.w, tc.h, tc.o, est, got)
		t.Logf("%dx%d %+v: %d bytes in the file, allocated %d, reserved %d", tc.w, tc.h, tc.o, len(data), got, est)
	}
}

// TestPutGetCCITT puts generated Group 3 and Group 4 TIFFs and gets them back
// at full size, pixel for pixel, and resized. The cache's 64 MiB budget is
// far below what the generic compressed-TIFF estimate (24 bytes a block
// pixel) would reserve for the 12 MP page, so that page is refused with
// ErrDimensions unless CCITT has its own estimate.
func TestPutGetCCITT(t *testing.T) {
	c := newTestCache(t, WithLimits(Limits{MemoryBudget: 64 << 20, Formats: []Format{TIFF}}))
	for _, tc := range []struct {
		w, h int
		o    fixture.CCITT
	}{
		{300, 200, fixture.CCITT{}},
		{300, 200, fixture.CCITT{Group4: true}},
		{300, 200, fixture.CCITT{Group4: true, RowsPerStrip: 16, LSBFirst: true}},
		{300, 200, fixture.CCITT{RowsPerStrip: 1, BlackIsZero: true}},
		{3000, 4000, fixture.CCITT{Group4: true}}, // one strip: 288 MB by the generic estimate
	} {
		data := fixture.TIFFCCITT(tc.w, tc.h, tc.o)
		info, err := c.Put(t.Context(), bytes.NewReader(data), DeclaredType("image/tiff"))
		require.NoError(t, err, "%dx%d %+v", tc.w, tc.h, tc.o)
		bare := info
		assert.NotEmpty(t, bare.Placeholder)
		bare.Placeholder, bare.Color = "", "" // TestPlaceholder
		assert.Equal(t, Info{ID: idOf(data), Format: TIFF, Width: tc.w, Height: tc.h, Frames: 1, Size: int64(len(data)), OrientedWidth: tc.w, OrientedHeight: tc.h}, bare)
		page := fixture.CCITTPage(tc.w, tc.h)
		if tc.w*tc.h <= 1<<20 {
			r, err := c.Get(t.Context(), info.ID, Spec{Format: PNG})
			require.NoError(t, err)
			out, _, err := image.Decode(bytes.NewReader(readRendition(t, r)))
			require.NoError(t, err)
			require.Equal(t, page.Bounds(), out.Bounds())
			for y := range tc.h {
				for x := range tc.w {
					g := color.GrayModel.Convert(out.At(x, y)).(color.Gray)
					require.Equal(t, page.GrayAt(x, y), g, "pixel %d,%d of %+v", x, y, tc.o)
				}
			}
		}
		r, err := c.Get(t.Context(), info.ID, Spec{Width: 100})
		require.NoError(t, err)
		out, _, err := image.Decode(bytes.NewReader(readRendition(t, r)))
		require.NoError(t, err)
		b := out.Bounds()
		assert.Equal(t, 100, b.Dx())
		// The solid block (from half the page, an eighth of it a side) is black,
		// the margin inside the frame white.
		block := color.GrayModel.Convert(out.At(b.Dx()/2+b.Dx()/16, b.Dy()/2+b.Dy()/16)).(color.Gray)
		margin := color.GrayModel.Convert(out.At(b.Dx()-b.Dx()/10, b.Dy()/4)).(color.Gray)
		assert.Less(t, block.Y, uint8(64), "%+v", tc.o)
		assert.Greater(t, margin.Y, uint8(192), "%+v", tc.o)
	}
}

// expiring is a context whose Err turns to DeadlineExceeded at its n-th call:
// a deadline in reads, not in time.
type expiring struct {
	context.Context
	n, calls int
}

func (c *expiring) Err() error {
	c.calls++
	if c.calls >= c.n {
		return context.DeadlineExceeded
	}
	return nil
}

// TestCCITTDecodeStopsAtDeadline checks that a long CCITT strip is read
// through the ctx-aware reader as it is decoded, so a decode whose deadline
// passes mid-strip stops at its next read with the deadline error, not
// ErrCorrupt, instead of decoding the 2.5 MB stream to its end.
func TestCCITTDecodeStopsAtDeadline(t *testing.T) {
	data := fixture.TIFFCCITTModeLoop(64, 2_000_000)
	h, err := inspect(data, putConfig{}, ccittLimits())
	require.NoError(t, err)
	ctx := &expiring{Context: context.Background(), n: 100}
	_, err = decodeImage(ctx, data, h, decodeOpts{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, ErrCorrupt)
	assert.Equal(t, 100, ctx.calls, "no read after the deadline")
	// Without a deadline the stream is read to its end (about 2,500 reads of 1 KiB).
	ctx = &expiring{Context: context.Background(), n: 1 << 30}
	_, err = decodeImage(ctx, data, h, decodeOpts{})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Greater(t, ctx.calls, 2000)
}
