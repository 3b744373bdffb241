package jpegdec

// Reduced-size inverse DCTs: an 8×8 block of coefficients to 4×4, 2×2 or 1×1
// pixels. This file is not from image/jpeg.
//
// The math is that of libjpeg's jidctred.c (jpeg_idct_4x4, jpeg_idct_2x2,
// jpeg_idct_1x1), the implementation is new. Each output pixel is the mean
// of the s×s pixels of the full 8×8 inverse DCT that it stands for (s = 2, 4
// or 8), computed straight from the coefficients: the 2D IDCT is separable,
// so it is enough to average the 1D IDCT
//
//	f(n) = Σ_u ½·C(u)·F(u)·cos((2n+1)uπ/16),  C(0) = 1/√2, C(u>0) = 1,
//
// over n = s·x … s·x+s−1, which gives one weight per input u and output x:
//
//	s=2: w_u(x) = ½·C(u)·cos((2x+1)uπ/8)·cos(uπ/16)
//	s=4: w_u(x) = ½·C(u)·¼·Σ_{k=0..3} cos((8x+2k+1)uπ/16)
//	s=8: w_0 = ½·C(0) and w_u = 0 for u > 0, so a pixel is F(0,0)/8.
//
// Some weights are zero (u=4 for s=2; u=2, 4, 6 for s=4), so those
// coefficients are never read, and the weights are symmetric (even u) or
// antisymmetric (odd u) about the middle of the block, which halves the
// multiplications. A pass over the columns then a pass over the rows apply
// the weights in fixed point, with redBits fraction bits, keeping pass1Bits
// extra bits between the passes; TestReducedWeights checks the constants
// against the formulas above.

const (
	redBits   = 13 // fraction bits of the weights
	pass1Bits = 2  // fraction bits kept between the passes
)

// 8→4 weights, round(w_u(x)·2^13). Outputs 3 and 2 are mirrors of 0 and 1:
// the same weights with even u, negated ones with odd u.
const (
	w4dc = 2896 // u=0, any x: 1/(2√2)
	w4e2 = 2676 // u=2, x=0 (−x=1)
	w4e6 = 1108 // u=6, x=1 (−x=0)
	w4a1 = 3711 // x=0, u=1
	w4a3 = 1303 // x=0, u=3
	w4a5 = -871 // x=0, u=5
	w4a7 = -738 // x=0, u=7
	w4b1 = 1537 // x=1, u=1
	w4b3 = -3146
	w4b5 = 2102
	w4b7 = -306
)

// 8→2 weights, round(w_u(0)·2^13); w_u(1) = w_u(0) for u=0, −w_u(0) for odd u.
const (
	w2dc = 2896
	w2a1 = 2624
	w2a3 = -922
	w2a5 = 616
	w2a7 = -522
)

// clampByte clamps x to [0, 255].
func clampByte(x int) byte {
	if uint(x) <= 255 {
		return byte(x) // #nosec G115 -- 0 <= x <= 255: the unsigned compare above
	}
	if x < 0 {
		return 0
	}
	return 255
}

// descale2 rounds a second-pass sum to a pixel: divides by 2^(redBits+
// pass1Bits), rounding, and level-shifts by +128.
func descale2(x int) byte {
	const n = redBits + pass1Bits
	return clampByte((x + 1<<(n-1) + 128<<n) >> n)
}

// idct1x1 returns the pixel of a block whose dequantized DC coefficient is
// dc: the mean of its 64 pixels, dc/8 + 128, rounded and clamped.
func idct1x1(dc int) byte {
	return clampByte((dc+4)>>3 + 128)
}

// idct4x4 writes the 4×4 reduced inverse DCT of b (dequantized, in natural
// order) to dst, with the given stride.
func idct4x4(b *block, dst []byte, stride int) {
	const (
		n1    = redBits - pass1Bits
		half1 = 1 << (n1 - 1)
	)
	var ws [4 * 8]int // 4 output rows × 8 columns; column 4 unused
	for c := 0; c < 8; c++ {
		if c == 4 {
			continue // w_4 = 0: the row pass never reads column 4
		}
		f0 := int(b[c])
		if b[8+c]|b[16+c]|b[24+c]|b[40+c]|b[48+c]|b[56+c] == 0 {
			v := (w4dc*f0 + half1) >> n1
			ws[c], ws[8+c], ws[16+c], ws[24+c] = v, v, v, v
			continue
		}
		f1 := int(b[8+c])
		f2 := int(b[16+c])
		f3 := int(b[24+c])
		f5 := int(b[40+c])
		f6 := int(b[48+c])
		f7 := int(b[56+c])
		e := w4dc * f0
		ev := w4e2*f2 - w4e6*f6
		e0, e1 := e+ev, e-ev
		o0 := w4a1*f1 + w4a3*f3 + w4a5*f5 + w4a7*f7
		o1 := w4b1*f1 + w4b3*f3 + w4b5*f5 + w4b7*f7
		ws[c] = (e0 + o0 + half1) >> n1
		ws[24+c] = (e0 - o0 + half1) >> n1
		ws[8+c] = (e1 + o1 + half1) >> n1
		ws[16+c] = (e1 - o1 + half1) >> n1
	}
	for r := 0; r < 4; r++ {
		x := ws[8*r : 8*r+8 : 8*r+8]
		out := dst[r*stride : r*stride+4 : r*stride+4]
		e := w4dc * x[0]
		ev := w4e2*x[2] - w4e6*x[6]
		e0, e1 := e+ev, e-ev
		o0 := w4a1*x[1] + w4a3*x[3] + w4a5*x[5] + w4a7*x[7]
		o1 := w4b1*x[1] + w4b3*x[3] + w4b5*x[5] + w4b7*x[7]
		out[0] = descale2(e0 + o0)
		out[3] = descale2(e0 - o0)
		out[1] = descale2(e1 + o1)
		out[2] = descale2(e1 - o1)
	}
}

// idct2x2 writes the 2×2 reduced inverse DCT of b (dequantized, in natural
// order) to dst, with the given stride.
func idct2x2(b *block, dst []byte, stride int) {
	const (
		n1    = redBits - pass1Bits
		half1 = 1 << (n1 - 1)
	)
	var ws [2 * 8]int // 2 output rows × 8 columns; columns 2, 4, 6 unused
	for _, c := range [...]int{0, 1, 3, 5, 7} {
		e := w2dc * int(b[c])
		if b[8+c]|b[24+c]|b[40+c]|b[56+c] == 0 {
			v := (e + half1) >> n1
			ws[c], ws[8+c] = v, v
			continue
		}
		o := w2a1*int(b[8+c]) +
			w2a3*int(b[24+c]) +
			w2a5*int(b[40+c]) +
			w2a7*int(b[56+c])
		ws[c] = (e + o + half1) >> n1
		ws[8+c] = (e - o + half1) >> n1
	}
	for r := 0; r < 2; r++ {
		x := ws[8*r : 8*r+8 : 8*r+8]
		e := w2dc * x[0]
		o := w2a1*x[1] + w2a3*x[3] + w2a5*x[5] + w2a7*x[7]
		out := dst[r*stride : r*stride+2 : r*stride+2]
		out[0] = descale2(e + o)
		out[1] = descale2(e - o)
	}
}
