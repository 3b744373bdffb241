package jpegdec

import (
	"bytes"
	"errors"
	"image/jpeg"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// coefFile returns a progressive 16×8 gray file (two blocks, quantization
// all ones) whose quantized coefficients are set by set, sent by the given
// scans.
func coefFile(set func(b *[2][64]int32), scans []encScan) []byte {
	e := grayEncoder(naturalImage(16, 8, 1), 90)
	e.quant[0] = [64]int{}
	for i := range e.quant[0] {
		e.quant[0][i] = 1
	}
	e.progressive = true
	e.scans = scans
	e.tweak = func(c [][][64]int32) {
		var b [2][64]int32
		set(&b)
		copy(c[0], b[:])
	}
	return e.encode()
}

// TestCoefficientRange checks the one deliberate deviation from image/jpeg:
// a progressive file whose quantized coefficients leave int16's range, which
// image/jpeg decodes (it keeps int32s), fails with ErrCoefficientRange, at
// the limit of the range still decodes as image/jpeg does, and so does a
// file whose coefficients go out of range only where the scale does not
// keep them. Each way a coefficient can grow is covered: DC differences
// accumulating, an Al shift of a first scan, refinements repeated.
func TestCoefficientRange(t *testing.T) {
	for _, tc := range coefRangeCases() {
		t.Run(tc.name, func(t *testing.T) {
			data := coefFile(tc.set, tc.scans)
			want, werr := jpeg.Decode(bytes.NewReader(data))
			require.NoError(t, werr, "image/jpeg decodes it")
			got, err := decodeBytes(data, Options{})
			if tc.bad {
				require.ErrorIs(t, err, ErrCoefficientRange)
				var fe FormatError
				assert.True(t, errors.As(err, &fe), "a FormatError")
			} else {
				require.NoError(t, err)
				assert.Empty(t, sameImage(want, got))
			}
			_, err = decodeBytes(data, Options{Scale: 2})
			if tc.badAt2 {
				assert.ErrorIs(t, err, ErrCoefficientRange, "Scale 2")
			} else {
				assert.NoError(t, err, "Scale 2")
			}
		})
	}
}

// A coefRangeCase is a file of coefFile's whose coefficients reach or pass
// int16's range: bad, out of it at scale 1; badAt2, out of it at scale 1/2
// too (a DC coefficient, any coefficient of a first scan, or a refinement of
// one 1/2 keeps).
type coefRangeCase struct {
	name        string
	set         func(b *[2][64]int32)
	scans       []encScan
	bad, badAt2 bool
}

// coefRangeCases are TestCoefficientRange's files (and FuzzDecode seeds).
func coefRangeCases() []coefRangeCase {
	dc := encScan{comps: []int{0}, ss: 0, se: 0}
	ac := func(al int) encScan { return encScan{comps: []int{0}, ss: 1, se: 63, al: al} }
	refine := encScan{comps: []int{0}, ss: 1, se: 63, ah: 1, al: 0}
	return []coefRangeCase{
		{"DC differences accumulate past 32767", func(b *[2][64]int32) { b[0][0], b[1][0] = 20000, 40000 },
			[]encScan{dc, ac(0)}, true, true},
		{"DC at the limits", func(b *[2][64]int32) { b[0][0], b[1][0] = 32767, -32768 },
			[]encScan{dc, ac(0)}, false, false},
		{"AC first scan shifted by Al past 32767", func(b *[2][64]int32) { b[1][9] = 40000 },
			[]encScan{dc, ac(1)}, true, true},
		{"AC first scan shifted by Al below -32768", func(b *[2][64]int32) { b[1][9] = -40000 },
			[]encScan{dc, ac(1)}, true, true},
		{"AC at the limits", func(b *[2][64]int32) { b[0][1], b[1][8] = 32767, -32767 },
			[]encScan{dc, ac(0)}, false, false},
		// 32767 sent as 32766 and a correction bit: sending the refinement
		// twice adds it twice.
		{"AC refined past 32767", func(b *[2][64]int32) { b[1][1] = 32767 },
			[]encScan{dc, ac(1), refine, refine}, true, true},
		{"AC refined once to the limit", func(b *[2][64]int32) { b[1][1] = 32767 },
			[]encScan{dc, ac(1), refine}, false, false},
		// Row 4 is not kept at 1/2 (idct4x4 does not read it): a first scan's
		// values are checked all the same, at every scale.
		{"AC out of range where 1/2 does not keep it", func(b *[2][64]int32) { b[1][4] = 40000 },
			[]encScan{dc, ac(1)}, true, true},
		// A refinement of a coefficient the scale does not keep is not seen
		// (the known gap: its value is not kept either).
		{"AC refined past 32767 where 1/2 does not keep it", func(b *[2][64]int32) { b[1][4] = 32767 },
			[]encScan{dc, ac(1), refine, refine}, true, false},
	}
}
