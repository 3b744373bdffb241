package jpegdec

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// planeStats compares plane got (gw×gh, stride gs) with the s×s box average
// of plane full (fw×fh, stride fs), the box clipped to full's size. It
// returns the mean and the maximum absolute difference.
func planeStats(got []byte, gs, gw, gh int, full []byte, fs, fw, fh, s int) (mean float64, maxd int) {
	var sum int
	for y := range gh {
		for x := range gw {
			var acc, n int
			for yy := y * s; yy < min(y*s+s, fh); yy++ {
				for xx := x * s; xx < min(x*s+s, fw); xx++ {
					acc += int(full[yy*fs+xx])
					n++
				}
			}
			want := (acc + n/2) / n
			d := int(got[y*gs+x]) - want
			if d < 0 {
				d = -d
			}
			sum += d
			maxd = max(maxd, d)
		}
	}
	return float64(sum) / float64(gw*gh), maxd
}

type planeErr struct {
	name string
	mean float64 // mean absolute error
	max  int     // maximum absolute error
	// maxPadded is the maximum absolute error when the box average may use
	// the padding pixels that image/jpeg decodes beyond the image bounds
	// (to whole MCUs): it is the error of the reduced IDCT alone.
	maxPadded int
}

// scaledError decodes data at scale s and compares each plane with the box
// average of image/jpeg's full decode.
func scaledError(t testing.TB, data []byte, s int) []planeErr {
	full, err := jpeg.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	got, err := decodeBytes(data, Options{Scale: s})
	require.NoError(t, err)
	var out []planeErr
	add := func(name string, g []byte, gs, gw, gh int, f []byte, fs, fw, fh int) {
		m, x := planeStats(g, gs, gw, gh, f, fs, fw, fh, s)
		_, xp := planeStats(g, gs, gw, gh, f, fs, fs, len(f)/fs, s)
		out = append(out, planeErr{name, m, x, xp})
	}
	switch f := full.(type) {
	case *image.Gray:
		g := got.(*image.Gray)
		add("Y", g.Pix, g.Stride, g.Rect.Dx(), g.Rect.Dy(), f.Pix, f.Stride, f.Rect.Dx(), f.Rect.Dy())
	case *image.YCbCr:
		g := got.(*image.YCbCr)
		add("Y", g.Y, g.YStride, g.Rect.Dx(), g.Rect.Dy(), f.Y, f.YStride, f.Rect.Dx(), f.Rect.Dy())
		gcw, gch := chromaSize(g)
		fcw, fch := chromaSize(f)
		// The chroma planes share one buffer: limit f.Cb to its own plane.
		f.Cb = f.Cb[:len(f.Cr)]
		add("Cb", g.Cb, g.CStride, gcw, gch, f.Cb, f.CStride, fcw, fch)
		add("Cr", g.Cr, g.CStride, gcw, gch, f.Cr, f.CStride, fcw, fch)
	default:
		t.Fatalf("unexpected %T", full)
	}
	return out
}

// TestScaledAccuracy compares scaled decodes with a box downscale of the
// full-size decode, on photo-like images: the mean absolute error of every
// plane must be at most 0.5 levels, the maximum error at most 8, and at most
// 2 when the box average of an edge block may include the padding pixels
// that the scaled pixel stands for (the reduced IDCTs compute the box
// average itself, so the differences are rounding, and clamping where the
// full decode saturates).
// TestScaledAccuracyReport prints the numbers.
func TestScaledAccuracy(t *testing.T) {
	for _, c := range accuracyCases(t, 160, 120) {
		for _, s := range scales[1:] {
			for _, p := range scaledError(t, c.data, s) {
				assert.LessOrEqual(t, p.mean, 0.5, "%s at 1/%d, %s", c.name, s, p.name)
				assert.LessOrEqual(t, p.max, 8, "%s at 1/%d, %s", c.name, s, p.name)
				assert.LessOrEqual(t, p.maxPadded, 2, "%s at 1/%d, %s", c.name, s, p.name)
			}
		}
	}
}

type accuracyCase struct {
	name string
	data []byte
}

func accuracyCases(t testing.TB, w, h int) []accuracyCase {
	m := naturalImage(w, h, 7)
	var cs []accuracyCase
	for _, q := range []int{50, 85, 95} {
		cs = append(cs, accuracyCase{fmt.Sprintf("std 4:2:0 q%d", q), stdEncode(t, m, q)})
		cs = append(cs, accuracyCase{fmt.Sprintf("std gray q%d", q), stdEncode(t, toGray(m), q)})
	}
	for _, ss := range subsamplings {
		e := ycbcrEncoder(m, ss.h0, ss.v0, ss.h1, ss.v1, 85)
		cs = append(cs, accuracyCase{"enc " + ss.name + " q85", e.encode()})
	}
	e := ycbcrEncoder(m, 2, 2, 1, 1, 85)
	e.progressive = true
	cs = append(cs, accuracyCase{"enc progressive 4:2:0 q85", e.encode()})
	return cs
}

// TestScaledAccuracyReport logs the accuracy numbers, on a larger image; run
// with -v.
func TestScaledAccuracyReport(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("report only")
	}
	for _, c := range accuracyCases(t, 640, 480) {
		for _, s := range scales[1:] {
			line := fmt.Sprintf("%-28s 1/%d:", c.name, s)
			for _, p := range scaledError(t, c.data, s) {
				line += fmt.Sprintf("  %-2s mean %.3f max %d (%d)", p.name, p.mean, p.max, p.maxPadded)
			}
			t.Log(line)
		}
	}
}

// TestReducedWeights recomputes the reduced IDCT weights from their
// definitions (see idct_reduced.go).
func TestReducedWeights(t *testing.T) {
	fix := func(v float64) int { return int(math.Round(v * (1 << redBits))) }
	cu := func(u int) float64 {
		if u == 0 {
			return 1 / math.Sqrt2
		}
		return 1
	}
	w4 := func(u, x int) int {
		return fix(0.5 * cu(u) * math.Cos(float64((2*x+1)*u)*math.Pi/8) * math.Cos(float64(u)*math.Pi/16))
	}
	w2 := func(u, x int) int {
		s := 0.0
		for k := range 4 {
			s += math.Cos(float64((8*x+2*k+1)*u) * math.Pi / 16)
		}
		return fix(0.5 * cu(u) * s / 4)
	}
	assert.Equal(t, []int{w4dc, w4e2, -w4e6, w4a1, w4a3, w4a5, w4a7, 0},
		[]int{w4(0, 0), w4(2, 0), w4(6, 0), w4(1, 0), w4(3, 0), w4(5, 0), w4(7, 0), w4(4, 0)})
	assert.Equal(t, []int{w4dc, -w4e2, w4e6, w4b1, w4b3, w4b5, w4b7, 0},
		[]int{w4(0, 1), w4(2, 1), w4(6, 1), w4(1, 1), w4(3, 1), w4(5, 1), w4(7, 1), w4(4, 1)})
	// Mirror symmetry of outputs 2 and 3.
	for u := range 8 {
		sign := 1 - 2*(u%2)
		assert.Equal(t, sign*w4(u, 0), w4(u, 3), "u=%d", u)
		assert.Equal(t, sign*w4(u, 1), w4(u, 2), "u=%d", u)
	}
	assert.Equal(t, []int{w2dc, w2a1, 0, w2a3, 0, w2a5, 0, w2a7},
		[]int{w2(0, 0), w2(1, 0), w2(2, 0), w2(3, 0), w2(4, 0), w2(5, 0), w2(6, 0), w2(7, 0)})
	for u := range 8 {
		sign := 1 - 2*(u%2)
		assert.Equal(t, sign*w2(u, 0), w2(u, 1), "u=%d", u)
	}
}

// TestReducedIDCTExact checks the reduced IDCTs against a floating-point
// evaluation of their definition (the mean of the s×s pixels of the exact
// 8×8 IDCT, before clamping), on random in-range blocks: at most one level
// off.
func TestReducedIDCTExact(t *testing.T) {
	rng := newRand(3)
	n := 2000
	if raceEnabled {
		n = 300
	}
	for iter := range n {
		var b block
		// Sparse low-amplitude blocks most of the time, as in real data.
		for i := range b {
			if iter%4 == 0 || rng.IntN(4) == 0 {
				b[i] = int32(rng.IntN(201) - 100)
			}
		}
		b[0] = int32(rng.IntN(1600) - 800)
		var exact [64]float64
		for y := range 8 {
			for x := range 8 {
				s := 0.0
				for v := range 8 {
					for u := range 8 {
						cu, cv := 1.0, 1.0
						if u == 0 {
							cu = 1 / math.Sqrt2
						}
						if v == 0 {
							cv = 1 / math.Sqrt2
						}
						s += cu * cv / 4 * float64(b[8*v+u]) *
							math.Cos(float64((2*x+1)*u)*math.Pi/16) * math.Cos(float64((2*y+1)*v)*math.Pi/16)
					}
				}
				exact[8*y+x] = s
			}
		}
		for _, sc := range []int{2, 4, 8} {
			n := 8 / sc
			dst := make([]byte, n*n)
			bb := b
			switch sc {
			case 2:
				idct4x4(&bb, dst, n)
			case 4:
				idct2x2(&bb, dst, n)
			case 8:
				dst[0] = idct1x1(int(b[0]))
			}
			for y := range n {
				for x := range n {
					m := 0.0
					for yy := range sc {
						for xx := range sc {
							m += exact[8*(y*sc+yy)+x*sc+xx]
						}
					}
					want := math.Min(math.Max(math.Round(m/float64(sc*sc)+128), 0), 255)
					d := math.Abs(float64(dst[y*n+x]) - want)
					if d > 1 {
						t.Fatalf("1/%d: block %v, pixel (%d,%d) = %d, want %v", sc, b, x, y, dst[y*n+x], want)
					}
				}
			}
		}
	}
}

// TestIDCTStore checks idctStore against image/jpeg's idct followed by its
// level shift and clipping, on random blocks: sparse realistic ones, and
// full-range ones that overflow the int32 arithmetic (which must wrap the
// same way).
func TestIDCTStore(t *testing.T) {
	rng := newRand(4)
	for iter := range 20000 {
		var b block
		switch iter % 4 {
		case 0: // anything
			for i := range b {
				b[i] = int32(rng.Uint32())
			}
		case 1: // DC only, or DC and the first row
			b[0] = int32(rng.IntN(1<<16) - 1<<15)
			if rng.IntN(2) == 0 {
				for i := 1; i < 8; i++ {
					b[i] = int32(rng.IntN(2001) - 1000)
				}
			}
		default: // sparse, realistic range
			for i := range b {
				if rng.IntN(5) == 0 {
					b[i] = int32(rng.IntN(4001) - 2000)
				}
			}
		}
		want := make([]byte, 8*10)
		ref := b
		idct(&ref)
		for y := range 8 {
			for x := range 8 {
				c := ref[8*y+x]
				if c < -128 {
					c = 0
				} else if c > 127 {
					c = 255
				} else {
					c += 128
				}
				want[y*10+x] = uint8(c)
			}
		}
		got := make([]byte, 8*10)
		idctStore(&b, got, 10)
		if !bytes.Equal(got, want) {
			t.Fatalf("block %v: got %v, want %v", b, got, want)
		}
	}
}
