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
// a progressive file whose quantized coefficients leave int16's range, or
// whose AC scans break the successive-approximation order (through which
// refinements could take them out), which image/jpeg decodes (it keeps
// int32s), fails with ErrCoefficientRange at every scale; at the limit of the
// range, in order, it decodes as image/jpeg does. Each way a coefficient can
// grow is covered: DC differences accumulating, an Al shift of a first scan,
// refinements repeated; and a coefficient scale 1/2 does not keep.
func TestCoefficientRange(t *testing.T) {
	for _, tc := range coefRangeCases() {
		t.Run(tc.name, func(t *testing.T) {
			data := coefFile(tc.set, tc.scans)
			want, werr := jpeg.Decode(bytes.NewReader(data))
			require.NoError(t, werr, "image/jpeg decodes it")
			for _, scale := range scales {
				got, err := decodeBytes(data, Options{Scale: scale})
				if tc.bad {
					require.ErrorIs(t, err, ErrCoefficientRange, "Scale %d", scale)
					var fe FormatError
					assert.True(t, errors.As(err, &fe), "a FormatError")
					continue
				}
				require.NoError(t, err, "Scale %d", scale)
				if scale == 1 {
					assert.Empty(t, sameImage(want, got))
				}
			}
		})
	}
}

// A coefRangeCase is a file of coefFile's whose coefficients reach or pass
// int16's range, or whose scans are out of order: bad, rejected.
type coefRangeCase struct {
	name  string
	set   func(b *[2][64]int32)
	scans []encScan
	bad   bool
}

// coefRangeCases are TestCoefficientRange's files (and FuzzDecode seeds).
func coefRangeCases() []coefRangeCase {
	dc := encScan{comps: []int{0}, ss: 0, se: 0}
	ac := func(al int) encScan { return encScan{comps: []int{0}, ss: 1, se: 63, al: al} }
	refine := func(al int) encScan { return encScan{comps: []int{0}, ss: 1, se: 63, ah: al + 1, al: al} }
	small := func(b *[2][64]int32) { b[0][1], b[1][8] = 5, -3 }
	return []coefRangeCase{
		{"DC differences accumulate past 32767", func(b *[2][64]int32) { b[0][0], b[1][0] = 20000, 40000 },
			[]encScan{dc, ac(0)}, true},
		{"DC at the limits", func(b *[2][64]int32) { b[0][0], b[1][0] = 32767, -32768 },
			[]encScan{dc, ac(0)}, false},
		{"AC first scan shifted by Al past 32767", func(b *[2][64]int32) { b[1][9] = 40000 },
			[]encScan{dc, ac(1)}, true},
		{"AC first scan shifted by Al below -32768", func(b *[2][64]int32) { b[1][9] = -40000 },
			[]encScan{dc, ac(1)}, true},
		{"AC at the limits", func(b *[2][64]int32) { b[0][1], b[1][8] = 32767, -32767 },
			[]encScan{dc, ac(0)}, false},
		// Row 4 is not kept at 1/2 (idct4x4 does not read it).
		{"AC out of range where 1/2 does not keep it", func(b *[2][64]int32) { b[1][4] = 40000 },
			[]encScan{dc, ac(1)}, true},
		// 32767 sent as 32766 and a correction bit: sending the refinement
		// twice would add it twice.
		{"AC refined twice", func(b *[2][64]int32) { b[1][1] = 32767 },
			[]encScan{dc, ac(1), refine(0), refine(0)}, true},
		{"AC refined twice where 1/2 does not keep it", func(b *[2][64]int32) { b[1][4] = 32767 },
			[]encScan{dc, ac(1), refine(0), refine(0)}, true},
		{"AC refined once to the limit", func(b *[2][64]int32) { b[1][1], b[0][4] = 32767, -32767 },
			[]encScan{dc, ac(1), refine(0)}, false},
		{"AC refined in order", small, []encScan{dc, ac(3), refine(2), refine(1), refine(0)}, false},
		// Out of order, with values far from the limits: rejected all the same.
		{"AC refinement skipping a bit", small, []encScan{dc, ac(3), refine(1)}, true},
		{"AC refinement without a first scan", small, []encScan{dc, refine(0)}, true},
		{"AC band sent twice", small, []encScan{dc, ac(1), ac(1)}, true},
		{"AC band sent at Al 0, then at Al 3", small, []encScan{dc, ac(0), ac(3)}, true},
		// As fixture.JPEGScanFlood does: image/jpeg and libjpeg accept it.
		{"AC band sent twice at Al 0", small, []encScan{dc, ac(0), ac(0)}, false},
		{"AC band sent again at Al 0 after its refinements", small, []encScan{dc, ac(1), refine(0), ac(0)}, false},
		{"AC bands apart, each once", small, []encScan{dc,
			{comps: []int{0}, ss: 1, se: 5, al: 1}, {comps: []int{0}, ss: 6, se: 63, al: 1},
			{comps: []int{0}, ss: 1, se: 63, ah: 1}}, false},
	}
}
