package jpegdec

import (
	"encoding/binary"
	"image"
)

// ErrCoefficientRange is the error Decode returns for a progressive file in
// which a quantized DCT coefficient leaves the range of an int16, which a
// valid 8-bit JPEG's never do (they fit in 12 bits), or whose AC scans do not
// follow the order successive approximation defines, which a valid one's
// always do, and without which refinements could take one out (see
// progression): the one kind of input on which Decode at scale 1 and
// image/jpeg (which keeps int32s, and decodes it) differ. It is a
// FormatError, and every scale (but 1/8 with SkipAC, which does not read AC
// scans) finds it where scale 1 does.
var ErrCoefficientRange error = FormatError("quantized coefficient out of range, or a progression that could take one out")

// coefs is a progressive decode's store of one component's coefficients
// between scans: for each block, the progLayout.n coefficients its layout
// keeps, as little-endian int16s (2n bytes), as libjpeg's JCOEF, half of
// image/jpeg's int32s. A []byte rather than an []int16 so that at scale 1
// the inverse DCT can write the component's plane into the same memory
// (reconstructInPlace) without the unsafe package.
type coefs []byte

// get returns coefficient s of a block's store c.
func (c coefs) get(s int) int32 {
	return int32(int16(binary.LittleEndian.Uint16(c[2*s:]))) // #nosec G115 -- the bits of an int16, stored by set
}

// set stores v as coefficient s of a block's store c, and reports whether it
// fits in an int16 (if not, the decode fails with ErrCoefficientRange, and
// what was stored does not matter).
func (c coefs) set(s int, v int32) bool {
	binary.LittleEndian.PutUint16(c[2*s:], uint16(v)) // #nosec G115 -- truncation checked below
	return int32(int16(v)) == v                       // #nosec G115 -- the range check itself
}

// progression checks an AC scan of component ci, spectral band zs..ze,
// successive approximation ah, al, against the scans before it, position by
// position: a first scan (ah 0) must be the first to send the position, or
// send it again at Al 0 after one at Al 0 (image/jpeg decodes such scan
// floods, and libjpeg accepts them); a refinement must continue where the
// last scan of the position stopped (its Ah that scan's Al), as libjpeg's
// decoder checks (it only warns). A first scan's values are range-checked; in
// a progression that follows these rules, the refinements of a value m<<Al
// add at most 2^Al - 1 to its magnitude, and so keep it in range:
// (m+1)<<Al ≤ 32768 when m<<Al ≤ 32767 (and after Al 0 none may follow). A
// refinement out of order could add more, at a scale that keeps the
// coefficient or one that does not: the rule, which depends on the scan
// headers alone, makes every scale fail alike (a proving decode at 1/8 fails
// where a later full-size one would).
func (d *decoder) progression(ci uint8, zs, ze int32, ah, al uint32) error {
	sent := &d.progAl[ci&(maxComponents-1)]
	next := uint8(al) + 1 // #nosec G115 -- al <= 15, a 4-bit field
	for k := zs & 63; k <= ze && k < blockSize; k++ {
		switch {
		case ah == 0 && (sent[k] == 0 || sent[k] == 1 && al == 0):
		case ah != 0 && uint32(sent[k]) == ah+1:
		default:
			return ErrCoefficientRange
		}
		sent[k] = next
	}
	return nil
}

// reconstructInPlace is reconstructProgressiveImage at scale 1, where no
// planes were allocated: the inverse DCT of each component writes its plane
// (64 bytes a block, padded to whole MCUs as makeImg's) into the front of
// its coefficient store (128 bytes a block), one block row at a time. The
// pixels of block row r ≥ 1 (bytes 64·bw·r to 64·bw·(r+1), bw blocks a row)
// end before the coefficients of row r begin (at 128·bw·r), so they
// overwrite only coefficients already read; row 0's go through a band,
// copied in once the row is read. Blocks outside the image are zeroed, as
// makeImg's planes are where image/jpeg reconstructs nothing. A component
// no scan had gets a zero plane. It then makes the image from the planes.
func (d *decoder) reconstructInPlace() error {
	if !d.progStarted {
		return nil // no SOS: decode reports it
	}
	h0, v0 := d.comp[0].h, d.comp[0].v
	mxx := (d.width + 8*h0 - 1) / (8 * h0)
	myy := (d.height + 8*v0 - 1) / (8 * v0)
	lay := d.progLayout
	var planes [maxComponents][]byte
	band := make([]byte, 64*mxx*d.maxH())
	var b block
	for i := 0; i < d.nComp; i++ {
		bw, bh := mxx*d.comp[i].h, myy*d.comp[i].v
		c := d.progCoeffs[i]
		if c == nil {
			planes[i] = make([]byte, 64*bw*bh)
			continue
		}
		// A block's size in the first component's pixels.
		v := 8 * d.comp[0].v / d.comp[i].v
		h := 8 * d.comp[0].h / d.comp[i].h
		qt := &d.quantNat[d.comp[i].tq]
		stride := 8 * bw
		row := 64 * bw
		for by := 0; by < bh; by++ {
			dst := c[row*by : row*(by+1)]
			if by == 0 {
				dst = band[:row]
			}
			for bx := 0; bx < bw; bx++ {
				if by*v >= d.height || bx*h >= d.width {
					zeroBlock(dst[8*bx:], stride)
					continue
				}
				k := 2 * lay.n * (by*bw + bx)
				dequantize(&b, c[k:k+2*lay.n], lay, qt)
				idctStore(&b, dst[8*bx:], stride)
			}
			if by == 0 {
				copy(c, band[:row])
			}
		}
		planes[i] = c[: row*bh : row*bh]
	}
	d.imgFromPlanes(planes, mxx, myy)
	return nil
}

// zeroBlock zeroes an 8×8 block of pixels at dst with the given stride.
func zeroBlock(dst []byte, stride int) {
	for y := range 8 {
		clear(dst[y*stride : y*stride+8])
	}
}

// maxH is the largest horizontal sampling factor of the frame's components
// (all 1 for a single component, as processSOF sets them).
func (d *decoder) maxH() int {
	m := 1
	for i := 0; i < d.nComp; i++ {
		m = max(m, d.comp[i].h)
	}
	return m
}

// imgFromPlanes makes the destination image, as makeImg would at scale 1,
// from planes already decoded, one per component, each padded to whole
// MCUs (mxx × myy of them).
func (d *decoder) imgFromPlanes(planes [maxComponents][]byte, mxx, myy int) {
	sw, sh := d.scaledSize()
	if d.nComp == 1 {
		m := &image.Gray{Pix: planes[0], Stride: 8 * mxx, Rect: image.Rect(0, 0, 8*mxx, 8*myy)}
		d.img1 = m.SubImage(image.Rect(0, 0, sw, sh)).(*image.Gray)
		return
	}
	h0, v0 := d.comp[0].h, d.comp[0].v
	m := &image.YCbCr{
		Y: planes[0], Cb: planes[1], Cr: planes[2],
		YStride: 8 * h0 * mxx, CStride: 8 * d.comp[1].h * mxx,
		SubsampleRatio: d.subsampleRatio(),
		Rect:           image.Rect(0, 0, 8*h0*mxx, 8*v0*myy),
	}
	d.img3 = m.SubImage(image.Rect(0, 0, sw, sh)).(*image.YCbCr)
	if d.nComp == 4 {
		d.blackPix = planes[3]
		d.blackStride = 8 * d.comp[3].h * mxx
	}
}
