package tiffscan

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/image/tiff"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// TestScanCCITT accepts the Group 3 and 4 TIFFs x/image decodes, with the
// geometry DecodeConfig reports and their strip layout.
func TestScanCCITT(t *testing.T) {
	for _, tc := range []struct {
		w, h   int
		o      fixture.CCITT
		blocks int
		comp   int
	}{
		{153, 55, fixture.CCITT{}, 1, 3},
		{153, 55, fixture.CCITT{Group4: true}, 1, 4},
		{300, 100, fixture.CCITT{Group4: true, RowsPerStrip: 8, LSBFirst: true}, 13, 4},
		{300, 100, fixture.CCITT{RowsPerStrip: 1, BlackIsZero: true}, 100, 3},
		{1 << 20, 1 << 16, fixture.CCITT{Group4: true, Blank: true}, 1, 4},
		{100, 70, fixture.CCITT{Group4: true, Tile: 16}, 35, 4},
		{40, 40, fixture.CCITT{T4Options: 2}, 1, 3},               // uncompressed mode allowed, not used
		{40, 40, fixture.CCITT{Group4: true, T4Options: 2}, 1, 4}, // T6Options: likewise
	} {
		data := fixture.TIFFCCITT(tc.w, tc.h, tc.o)
		info, err := Scan(data, generous)
		require.NoError(t, err, "%+v", tc)
		assert.Equal(t, tc.comp, info.Compression)
		assert.Equal(t, tc.blocks, info.Blocks)
		assert.Equal(t, 1, info.BitsPerPixel)
		if tc.o.Tile == 0 {
			assert.Equal(t, tc.w, info.BlockWidth)
		} else {
			assert.True(t, info.Tiled)
			assert.Equal(t, tc.o.Tile, info.BlockWidth)
		}
		cfg, err := tiff.DecodeConfig(bytes.NewReader(data))
		require.NoError(t, err)
		assert.Equal(t, cfg.Width, info.Width)
		assert.Equal(t, cfg.Height, info.Height)
	}
}

// TestScanCCITTRejects refuses CCITT variants x/image/ccitt cannot decode and
// CCITT on images that are not bilevel.
func TestScanCCITTRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    fixture.CCITT
		want error
	}{
		{"group 3 two-dimensional", fixture.CCITT{T4Options: 1}, ErrUnsupported},
		{"group 3 fill bits", fixture.CCITT{T4Options: 4}, ErrUnsupported},
		{"group 3 2D and fill bits", fixture.CCITT{T4Options: 5, LSBFirst: true}, ErrUnsupported},
		{"group 3 8-bit samples", fixture.CCITT{BitsPerSample: 8}, ErrMalformed},
		{"group 4 8-bit samples", fixture.CCITT{Group4: true, BitsPerSample: 8}, ErrMalformed},
		{"group 4 2-bit samples", fixture.CCITT{Group4: true, BitsPerSample: 2}, ErrMalformed},
	} {
		_, err := Scan(fixture.TIFFCCITT(64, 32, tc.o), generous)
		require.ErrorIs(t, err, tc.want, tc.name)
	}
	// Three samples of one bit each.
	m := img{w: 8, h: 8, spp: 3, bps: []uint32{1, 1, 1}, comp: 4, photometric: 2, blocks: 1, blockLen: 8}
	_, err := Scan(m.build(), generous)
	require.ErrorIs(t, err, ErrMalformed)
	// T4Options of the wrong type or count.
	m = img{w: 8, h: 8, bps: []uint32{1}, comp: 3, blocks: 1, blockLen: 8, extra: []tEntry{long(tagT4Options, 0, 0)}}
	_, err = Scan(m.build(), generous)
	require.ErrorIs(t, err, ErrMalformed)
	m.extra = []tEntry{{tag: tagT4Options, typ: 5, vals: []uint32{1}}} // RATIONAL
	_, err = Scan(m.build(), generous)
	require.ErrorIs(t, err, ErrMalformed)
	// Group 4 ignores T4Options (it is Group 3's tag).
	m = img{w: 8, h: 8, bps: []uint32{1}, comp: 4, blocks: 1, blockLen: 8, extra: []tEntry{long(tagT4Options, 1)}}
	_, err = Scan(m.build(), generous)
	require.NoError(t, err)
}
