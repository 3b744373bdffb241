// Copyright 2012 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package jpegdec

import (
	"bytes"
	"encoding/binary"
	"image"
	mbits "math/bits"
)

// makeImg allocates and initializes the destination image, at the decode's
// scale: each 8×8 block is bs×bs pixels, bs = 8>>d.shift.
func (d *decoder) makeImg(mxx, myy int) {
	bs := 8 >> d.shift
	sw, sh := d.scaledSize()
	if d.nComp == 1 {
		m := image.NewGray(image.Rect(0, 0, bs*mxx, bs*myy))
		d.img1 = m.SubImage(image.Rect(0, 0, sw, sh)).(*image.Gray)
		return
	}

	h0 := d.comp[0].h
	v0 := d.comp[0].v
	subsampleRatio := d.subsampleRatio()
	m := image.NewYCbCr(image.Rect(0, 0, bs*h0*mxx, bs*v0*myy), subsampleRatio)
	d.img3 = m.SubImage(image.Rect(0, 0, sw, sh)).(*image.YCbCr)

	if d.nComp == 4 {
		h3, v3 := d.comp[3].h, d.comp[3].v
		d.blackPix = make([]byte, bs*h3*mxx*bs*v3*myy)
		d.blackStride = bs * h3 * mxx
	}
}

// subsampleRatio is the chroma subsampling of a 3 or 4 component frame,
// which processSOF restricted to those image.YCbCr has.
func (d *decoder) subsampleRatio() image.YCbCrSubsampleRatio {
	hRatio := d.comp[0].h / d.comp[1].h
	vRatio := d.comp[0].v / d.comp[1].v
	switch hRatio<<4 | vRatio {
	case 0x11:
		return image.YCbCrSubsampleRatio444
	case 0x12:
		return image.YCbCrSubsampleRatio440
	case 0x21:
		return image.YCbCrSubsampleRatio422
	case 0x22:
		return image.YCbCrSubsampleRatio420
	case 0x41:
		return image.YCbCrSubsampleRatio411
	case 0x42:
		return image.YCbCrSubsampleRatio410
	default:
		panic("unreachable")
	}
}

// scaledSize returns the size of the decoded image: ceil(w/s) × ceil(h/s).
func (d *decoder) scaledSize() (w, h int) {
	s := 1<<d.shift - 1
	return (d.width + s) >> d.shift, (d.height + s) >> d.shift
}

// Specified in section B.2.3.
func (d *decoder) processSOS(n int) error {
	if d.nComp == 0 {
		return FormatError("missing SOF marker")
	}
	if n < 6 || 4+2*d.nComp < n || n%2 != 0 {
		return FormatError("SOS has wrong length")
	}
	if err := d.readFull(d.tmp[:n]); err != nil {
		return err
	}
	nComp := int(d.tmp[0])
	if n != 4+2*nComp {
		return FormatError("SOS length inconsistent with number of components")
	}
	var scan [maxComponents]struct {
		compIndex uint8
		td        uint8 // DC table selector.
		ta        uint8 // AC table selector.
	}
	totalHV := 0
	for i := 0; i < nComp; i++ {
		cs := d.tmp[1+2*i] // Component selector.
		compIndex := -1
		for j, comp := range d.comp[:d.nComp] {
			if cs == comp.c {
				compIndex = j
			}
		}
		if compIndex < 0 {
			return FormatError("unknown component selector")
		}
		scan[i].compIndex = uint8(compIndex)
		// Section B.2.3 states that "the value of Cs_j shall be different from
		// the values of Cs_1 through Cs_(j-1)". Since we have previously
		// verified that a frame's component identifiers (C_i values in section
		// B.2.2) are unique, it suffices to check that the implicit indexes
		// into d.comp are unique.
		for j := 0; j < i; j++ {
			if scan[i].compIndex == scan[j].compIndex {
				return FormatError("repeated component selector")
			}
		}
		totalHV += d.comp[compIndex].h * d.comp[compIndex].v

		// The baseline t <= 1 restriction is specified in table B.3.
		scan[i].td = d.tmp[2+2*i] >> 4
		if t := scan[i].td; t > maxTh || (d.baseline && t > 1) {
			return FormatError("bad Td value")
		}
		scan[i].ta = d.tmp[2+2*i] & 0x0f
		if t := scan[i].ta; t > maxTh || (d.baseline && t > 1) {
			return FormatError("bad Ta value")
		}
	}
	// Section B.2.3 states that if there is more than one component then the
	// total H*V values in a scan must be <= 10.
	if d.nComp > 1 && totalHV > 10 {
		return FormatError("total sampling factors too large")
	}

	// zigStart and zigEnd are the spectral selection bounds.
	// ah and al are the successive approximation high and low values.
	// The spec calls these values Ss, Se, Ah and Al.
	//
	// For progressive JPEGs, these are the two more-or-less independent
	// aspects of progression. Spectral selection progression is when not
	// all of a block's 64 DCT coefficients are transmitted in one pass.
	// For example, three passes could transmit coefficient 0 (the DC
	// component), coefficients 1-5, and coefficients 6-63, in zig-zag
	// order. Successive approximation is when not all of the bits of a
	// band of coefficients are transmitted in one pass. For example,
	// three passes could transmit the 6 most significant bits, followed
	// by the second-least significant bit, followed by the least
	// significant bit.
	//
	// For sequential JPEGs, these parameters are hard-coded to 0/63/0/0, as
	// per table B.3.
	zigStart, zigEnd, ah, al := int32(0), int32(blockSize-1), uint32(0), uint32(0)
	if d.progressive {
		zigStart = int32(d.tmp[1+2*nComp])
		zigEnd = int32(d.tmp[2+2*nComp])
		ah = uint32(d.tmp[3+2*nComp] >> 4)
		al = uint32(d.tmp[3+2*nComp] & 0x0f)
		if (zigStart == 0 && zigEnd != 0) || zigStart > zigEnd || blockSize <= zigEnd {
			return FormatError("bad spectral selection bounds")
		}
		if zigStart != 0 && nComp != 1 {
			return FormatError("progressive AC coefficients for more than one component")
		}
		if ah != 0 && ah != al+1 {
			return FormatError("bad successive approximation values")
		}
		if zigStart > 0 {
			if err := d.progression(scan[0].compIndex, zigStart, zigEnd, ah, al); err != nil {
				return err
			}
		}
	}

	// mxx and myy are the number of MCUs (Minimum Coded Units) in the image.
	h0, v0 := d.comp[0].h, d.comp[0].v // The h and v values from the Y components.
	mxx := (d.width + 8*h0 - 1) / (8 * h0)
	myy := (d.height + 8*v0 - 1) / (8 * v0)
	if d.progressive && d.shift == 0 {
		d.progStarted = true // the planes are made in the coefficient stores
	} else if d.img1 == nil && d.img3 == nil {
		d.makeImg(mxx, myy)
	}
	if d.progressive {
		for i := 0; i < nComp; i++ {
			compIndex := scan[i].compIndex
			n := mxx * myy * d.comp[compIndex].h * d.comp[compIndex].v
			if d.progCoeffs[compIndex] == nil {
				d.progLayout = &layouts[d.shift]
				d.progCoeffs[compIndex] = make(coefs, 2*n*d.progLayout.n)
				if !d.skipAC {
					d.progNZ[compIndex] = make([]uint64, n)
				}
			}
		}
		if d.skipAC && zigStart != 0 {
			// Only DC coefficients matter at 1/8: skip this AC scan's
			// entropy-coded data without decoding it.
			return d.skipEntropyData()
		}
	}

	d.bits = bits{}
	if !d.progressive {
		var sc [maxComponents]seqComp
		for i := 0; i < nComp; i++ {
			ci := int(scan[i].compIndex)
			dst, stride, ok := d.plane(ci)
			if !ok {
				return UnsupportedError("too many components")
			}
			sc[i] = seqComp{
				h: d.comp[ci].h, v: d.comp[ci].v,
				hdc: &d.huff[dcTable][scan[i].td], hac: &d.huff[acTable][scan[i].ta],
				qz: &d.quant[d.comp[ci].tq], dst: dst, stride: stride,
			}
		}
		if d.pipelined(mxx, myy) {
			return d.sequentialScanPipe(sc[:nComp], mxx, myy)
		}
		return d.sequentialScan(sc[:nComp], mxx, myy)
	}
	mcu, expectedRST := 0, uint8(rst0Marker)
	var (
		// b is the decoded coefficients, in natural (not zig-zag) order.
		b  block
		dc [maxComponents]int32
		// bx and by are the location of the current block, in units of 8x8
		// blocks: the third block in the first row has (bx, by) = (2, 0).
		bx, by     int
		blockCount int
	)
	for my := 0; my < myy; my++ {
		for mx := 0; mx < mxx; mx++ {
			for i := 0; i < nComp; i++ {
				compIndex := scan[i].compIndex
				hi := d.comp[compIndex].h
				vi := d.comp[compIndex].v
				for j := 0; j < hi*vi; j++ {
					// The blocks are traversed one MCU at a time. For 4:2:0 chroma
					// subsampling, there are four Y 8x8 blocks in every 16x16 MCU.
					//
					// For a sequential 32x16 pixel image, the Y blocks visiting order is:
					//	0 1 4 5
					//	2 3 6 7
					//
					// For progressive images, the interleaved scans (those with nComp > 1)
					// are traversed as above, but non-interleaved scans are traversed left
					// to right, top to bottom:
					//	0 1 2 3
					//	4 5 6 7
					// Only DC scans (zigStart == 0) can be interleaved. AC scans must have
					// only one component.
					//
					// To further complicate matters, for non-interleaved scans, there is no
					// data for any blocks that are inside the image at the MCU level but
					// outside the image at the pixel level. For example, a 24x16 pixel 4:2:0
					// progressive image consists of two 16x16 MCUs. The interleaved scans
					// will process 8 Y blocks:
					//	0 1 4 5
					//	2 3 6 7
					// The non-interleaved scans will process only 6 Y blocks:
					//	0 1 2
					//	3 4 5
					if nComp != 1 {
						bx = hi*mx + j%hi
						by = vi*my + j/hi
					} else {
						q := mxx * hi
						bx = blockCount % q
						by = blockCount / q
						blockCount++
						if bx*8 >= d.width || by*8 >= d.height {
							continue
						}
					}

					// The previous partially decoded coefficients. (Sequential
					// scans are decoded by sequentialScan.) image/jpeg copies the
					// block, and copies it back when it has decoded it; this
					// decoder works on it in place, which makes no difference
					// (when decoding fails, the coefficients are not used).
					lay := d.progLayout
					k := by*mxx*hi + bx
					var pnz *uint64
					if !d.skipAC {
						pnz = &d.progNZ[compIndex][k]
					}
					dcT, acT := &d.huff[dcTable][scan[i].td], &d.huff[acTable][scan[i].ta]
					k *= 2 * lay.n
					c := d.progCoeffs[compIndex][k : k+2*lay.n]
					if err := progBlock(d, c, pnz, &b, &dc[compIndex], dcT, acT, zigStart, zigEnd, ah, al); err != nil {
						return err
					}

					// At this point, we could call reconstructBlock to dequantize and perform the
					// inverse DCT, to save early stages of a progressive image to the *image.YCbCr
					// buffers (the whole point of progressive encoding), but in Go, the jpeg.Decode
					// function does not return until the entire image is decoded, so we "continue"
					// here to avoid wasted computation. Instead, reconstructBlock is called on each
					// accumulated block by the reconstructProgressiveImage method after all of the
					// SOS markers are processed.
				} // for j
			} // for i
			mcu++
			if d.ri > 0 && mcu%d.ri == 0 && mcu < mxx*myy {
				if err := d.restart(&expectedRST); err != nil {
					return err
				}
				// Reset the DC components, as per section F.2.1.3.1.
				dc = [maxComponents]int32{}
			}
		} // for mx
	} // for my

	return nil
}

// restart reads the restart marker expected after a restart interval, and
// resets the entropy decoder (but not the DC predictions: the caller's).
func (d *decoder) restart(expectedRST *uint8) error {
	// For well-formed input, the RST[0-7] restart marker follows
	// immediately. For corrupt input, call findRST to try to
	// resynchronize.
	if err := d.readFull(d.tmp[:2]); err != nil {
		return err
	} else if d.tmp[0] != 0xff || d.tmp[1] != *expectedRST {
		if err := d.findRST(*expectedRST); err != nil {
			return err
		}
	}
	*expectedRST++
	if *expectedRST == rst7Marker+1 {
		*expectedRST = rst0Marker
	}
	// Reset the Huffman decoder.
	d.bits = bits{}
	// Reset the progressive decoder state, as per section G.1.2.2.
	d.eobRun = 0
	return nil
}

// seqComp is one component of a sequential scan, for sequentialScan.
type seqComp struct {
	h, v     int      // sampling factors
	hdc, hac *huffman // DC and AC tables
	qz       *block   // quantization table, in zig-zag order
	dst      []byte   // the component's plane, and its stride
	stride   int
}

// sequentialScan is processSOS's block loop for a sequential (baseline or
// extended) scan, decoding and reconstructing each block: image/jpeg's loop
// without the parts for progressive scans, and with the per-component
// look-ups hoisted. (The zig-zag bounds are 0..63, and Ah = Al = 0.)
func (d *decoder) sequentialScan(sc []seqComp, mxx, myy int) error {
	mcu, expectedRST := 0, uint8(rst0Marker)
	bs := 8 >> d.shift
	var (
		b          block
		dc         [maxComponents]int32
		bx, by     int
		blockCount int
	)
	for my := 0; my < myy; my++ {
		for mx := 0; mx < mxx; mx++ {
			for i := range sc {
				c := &sc[i]
				for j := 0; j < c.h*c.v; j++ {
					// See processSOS about the block order.
					if len(sc) != 1 {
						bx = c.h*mx + j%c.h
						by = c.v*my + j/c.h
					} else {
						q := mxx * c.h
						bx = blockCount % q
						by = blockCount / q
						blockCount++
						if bx*8 >= d.width || by*8 >= d.height {
							continue
						}
					}
					dcDelta, err := d.decodeDC(c.hdc)
					if err != nil {
						return err
					}
					dc[i] += dcDelta
					dst := c.dst[bs*(by*c.stride+bx):]
					if d.shift == 3 {
						// The AC coefficients are not needed at 1/8.
						if d.eobRun > 0 {
							d.eobRun--
						} else if err := d.skipACSeq(c.hac); err != nil {
							return err
						}
						dst[0] = idct1x1(int(dc[i] * c.qz[0]))
						continue
					}
					b = block{}
					b[0] = dc[i] * c.qz[0]
					if d.eobRun > 0 {
						d.eobRun--
					} else if _, err := d.decodeAC(&b, c.qz, c.hac, 1, blockSize-1, 0); err != nil {
						return err
					}
					switch d.shift {
					case 0:
						idctStore(&b, dst, c.stride)
					case 1:
						idct4x4(&b, dst, c.stride)
					case 2:
						idct2x2(&b, dst, c.stride)
					}
				}
			}
			mcu++
			if d.ri > 0 && mcu%d.ri == 0 && mcu < mxx*myy {
				if err := d.restart(&expectedRST); err != nil {
					return err
				}
				dc = [maxComponents]int32{}
			}
		}
	}
	return nil
}

// decodeDC decodes a DC coefficient difference, as specified in section
// F.2.2.1.
func (d *decoder) decodeDC(h *huffman) (int32, error) {
	if d.bits.n < 32 {
		d.refill()
	}
	if d.bits.n >= 32 {
		// Fast path: the code and its extra bits are available.
		if e := h.lut[d.bits.a>>(64-lutSize)]; e != 0 {
			value := uint8(e >> 8)
			if value > 16 {
				return 0, UnsupportedError("excessive DC component")
			}
			a := d.bits.a << (e & 63)
			n := d.bits.n - uint(e&0xff)
			if value == 0 {
				d.bits.a, d.bits.n = a, n
				return 0, nil
			}
			x := int32(a >> ((64 - value) & 63)) // #nosec G115 -- value <= 16: checked above
			d.bits.a, d.bits.n = a<<(value&63), n-uint(value)
			return extend(x, value), nil
		}
	}
	value, err := d.decodeHuffman(h)
	if err != nil {
		return 0, err
	}
	if value > 16 {
		return 0, UnsupportedError("excessive DC component")
	}
	return d.receiveExtend(value)
}

// decodeAC decodes the AC coefficients zig..zigEnd of a block in a first
// scan (sequential, or progressive with Ah = 0), as specified in section
// F.2.2.2 and G.1.2.2, into b (unless b is nil), shifted left by al and
// multiplied by qz (in zig-zag order); at an EOB it sets d.eobRun. It
// returns the set of zig-zag positions it made non-zero, as bits. It is
// image/jpeg's loop, with the bit buffer in local variables while at least
// 32 bits (a code and its extra bits) are available.
func (d *decoder) decodeAC(b *block, qz *block, h *huffman, zig, zigEnd int32, al uint32) (uint64, error) {
	a, n := d.bits.a, d.bits.n
	var nz uint64
	for zig <= zigEnd {
		if n < 32 {
			// refill's fast path, inlined by hand.
			if i := d.bytes.i; i+8 <= d.bytes.j {
				x := binary.BigEndian.Uint64(d.bytes.buf[i : i+8])
				if v := ^x; (v-0x0101010101010101)&^v&0x8080808080808080 == 0 {
					k := (64 - n) >> 3
					s := 64 - 8*k
					a |= x >> (s & 63) << ((s - n) & 63)
					n += 8 * k
					d.bytes.i = i + int(k)
					goto decode
				}
			}
			d.bits.a, d.bits.n = a, n
			d.refill()
			a, n = d.bits.a, d.bits.n
			if n < 32 {
				nz2, err := d.decodeACTail(b, qz, h, zig, zigEnd, al)
				return nz | nz2, err
			}
		}
	decode:
		peek := a >> (64 - lutSize)
		if e := h.acLut[peek]; e != 0 {
			// A short code and its extra bits, decoded together.
			z := zig + (e>>8)&0x0f
			if z > zigEnd {
				// image/jpeg stops without reading the extra bits.
				l := h.lut[peek] & 0xff
				a <<= l & 63
				n -= uint(l)
				break
			}
			a <<= e & 63
			n -= uint(e & 0xff)
			if b != nil {
				b[unzig[z&63]&63] = e >> 16 << (al & 31) * qz[z&63]
			}
			nz |= 1 << (z & 63)
			zig = z + 1
			continue
		}
		var value uint8
		if e := h.lut[peek]; e != 0 {
			a <<= e & 63
			n -= uint(e & 0xff)
			value = uint8(e >> 8)
		} else {
			d.bits.a, d.bits.n = a, n
			v, err := d.decodeHuffmanSlow(h)
			if err != nil {
				return 0, err
			}
			a, n = d.bits.a, d.bits.n
			value = v
		}
		// At least 16 bits are left.
		val0 := int32(value >> 4)
		val1 := value & 0x0f
		if val1 != 0 {
			zig += val0
			if zig > zigEnd {
				break
			}
			x := int32(a >> ((64 - val1) & 63)) // #nosec G115 -- val1 <= 15 (4 bits)
			a <<= val1 & 63
			n -= uint(val1)
			if b != nil {
				b[unzig[zig&63]&63] = extend(x, val1) << (al & 31) * qz[zig&63]
			}
			nz |= 1 << (zig & 63)
		} else {
			if val0 != 0x0f {
				eobRun := uint16(1) << val0
				if val0 != 0 {
					eobRun |= uint16(a >> ((64 - val0) & 63)) // #nosec G115 -- val0 <= 14 (4 bits, not 0x0f)
					a <<= val0 & 63
					n -= uint(val0)
				}
				d.eobRun = eobRun - 1
				break
			}
			zig += 0x0f
		}
		zig++
	}
	d.bits.a, d.bits.n = a, n
	return nz, nil
}

// decodeACTail is decodeAC near the end of the entropy-coded data:
// image/jpeg's loop as it is.
func (d *decoder) decodeACTail(b *block, qz *block, huff *huffman, zig, zigEnd int32, al uint32) (uint64, error) {
	var nz uint64
	for ; zig <= zigEnd; zig++ {
		value, err := d.decodeHuffman(huff)
		if err != nil {
			return 0, err
		}
		val0 := value >> 4
		val1 := value & 0x0f
		if val1 != 0 {
			zig += int32(val0)
			if zig > zigEnd {
				break
			}
			ac, err := d.receiveExtend(val1)
			if err != nil {
				return 0, err
			}
			if b != nil {
				b[unzig[zig]] = ac << al * qz[zig]
			}
			nz |= 1 << zig
		} else {
			if val0 != 0x0f {
				d.eobRun = uint16(1 << val0)
				if val0 != 0 {
					bits, err := d.decodeBits(int32(val0))
					if err != nil {
						return 0, err
					}
					d.eobRun |= uint16(bits) // #nosec G115 -- bits has val0 <= 14 bits
				}
				d.eobRun--
				break
			}
			zig += 0x0f
		}
	}
	return nz, nil
}

// refine decodes a successive approximation refinement block, as specified in
// section G.1.2, into cb, a block's coefficients as lay keeps them.
//
// nz is the set of zig-zag positions of b's non-zero AC coefficients, as
// bits: refine keeps it up to date, and uses it to find them.
func refine(d *decoder, cb coefs, lay *layout, nz *uint64, h *huffman, zigStart, zigEnd, delta int32) error {
	// Refining a DC component is trivial.
	if zigStart == 0 {
		if zigEnd != 0 {
			panic("unreachable")
		}
		bit, err := d.decodeBit()
		if err != nil {
			return err
		}
		if bit {
			cb.set(0, cb.get(0)|delta) // in range: see progression
		}
		return nil
	}

	// Refining AC components is more complicated; see sections G.1.2.2 and G.1.2.3.
	zig := zigStart
	if d.eobRun == 0 {
	loop:
		for ; zig <= zigEnd; zig++ {
			z := int32(0)
			// decodeHuffman, with its common case inlined by hand.
			var value uint8
			if d.bits.n < 32 {
				d.refill()
			}
			if e := h.lut[d.bits.a>>(64-lutSize)]; e != 0 && d.bits.n >= 32 {
				d.bits.a <<= e & 63
				d.bits.n -= uint(e & 0xff)
				value = uint8(e >> 8)
			} else {
				v, err := d.decodeHuffman(h)
				if err != nil {
					return err
				}
				value = v
			}
			val0 := value >> 4
			val1 := value & 0x0f

			var err error
			switch val1 {
			case 0:
				if val0 != 0x0f {
					d.eobRun = uint16(1 << val0)
					if val0 != 0 {
						bits, err := d.decodeBits(int32(val0))
						if err != nil {
							return err
						}
						d.eobRun |= uint16(bits) // #nosec G115 -- bits has val0 <= 14 bits
					}
					break loop
				}
			case 1:
				z = delta
				if d.bits.n > 0 {
					// decodeBit, inlined by hand.
					if d.bits.a>>63 == 0 {
						z = -z
					}
					d.bits.a <<= 1
					d.bits.n--
				} else {
					bit, err := d.decodeBit()
					if err != nil {
						return err
					}
					if !bit {
						z = -z
					}
				}
			default:
				return FormatError("unexpected Huffman code")
			}

			zig, err = refineNonZeroes(d, cb, lay, *nz, zig, zigEnd, int32(val0), delta)
			if err != nil {
				return err
			}
			if zig > zigEnd {
				return FormatError("too many coefficients")
			}
			if z != 0 {
				if s := lay.slot[zig]; s >= 0 {
					cb.set(s, z) // ±delta, at most 1<<14
				}
				*nz |= 1 << zig
			}
		}
	}
	if d.eobRun > 0 {
		d.eobRun--
		if _, err := refineNonZeroes(d, cb, lay, *nz, zig, zigEnd, -1, delta); err != nil {
			return err
		}
	}
	return nil
}

// refineNonZeroes refines non-zero entries of b in zig-zag order. If nz >= 0,
// the first nz zero entries are skipped over. It returns the position of the
// zero entry it stopped at, or zigEnd+1.
//
// image/jpeg's looks at every entry; this one finds the non-zero ones in
// the set nzSet (bit k for zig-zag position k), which takes a few
// instructions per entry it refines instead of per entry, and refines only
// those lay keeps. The bits read, and so the errors, are the same.
func refineNonZeroes(d *decoder, cb coefs, lay *layout, nzSet uint64, zig, zigEnd, nz, delta int32) (int32, error) {
	if zig > zigEnd {
		return zig, nil
	}
	// The positions zig..zigEnd (0 <= zig <= zigEnd <= 63).
	span := ^uint64(0) << (zig & 63) & (^uint64(0) >> ((63 - zigEnd) & 63))
	end := zigEnd + 1
	if nz >= 0 {
		// Stop at the (nz+1)th zero entry, if there is one.
		zeros := ^nzSet & span
		for ; nz > 0 && zeros != 0; nz-- {
			zeros &= zeros - 1
		}
		if zeros != 0 {
			end = int32(mbits.TrailingZeros64(zeros)) // #nosec G115 -- at most 64
		}
	}
	todo := nzSet & span & (1<<(uint(end)&127) - 1) // #nosec G115 -- 0 <= end <= 64
	a, n := d.bits.a, d.bits.n
	for todo != 0 {
		k := mbits.TrailingZeros64(todo)
		todo &= todo - 1
		if n == 0 {
			d.bits.a, d.bits.n = a, n
			if err := d.needBits(1); err != nil {
				return 0, err
			}
			a, n = d.bits.a, d.bits.n
		}
		bit := int32(a >> 63)
		a <<= 1
		n--
		s := lay.slot[k]
		if s < 0 {
			continue // a coefficient this scale does not need
		}
		// If bit, add delta to the magnitude of the (non-zero) coefficient:
		// without branches, as the bits are unpredictable.
		v := cb.get(s)
		sign := v >> 31 // 0 or -1
		dv := delta & -bit
		cb.set(s, v+(dv^sign)-sign) // in range: see progression
	}
	d.bits.a, d.bits.n = a, n
	return end, nil
}

func (d *decoder) reconstructProgressiveImage() error {
	if d.shift == 0 {
		return d.reconstructInPlace()
	}
	// The h0, mxx, by and bx variables have the same meaning as in the
	// processSOS method.
	h0 := d.comp[0].h
	mxx := (d.width + 8*h0 - 1) / (8 * h0)
	lay := d.progLayout
	for i := 0; i < d.nComp; i++ {
		c := d.progCoeffs[i]
		if c == nil {
			continue
		}
		v := 8 * d.comp[0].v / d.comp[i].v
		h := 8 * d.comp[0].h / d.comp[i].h
		stride := mxx * d.comp[i].h
		qt := &d.quantNat[d.comp[i].tq]
		var b block
		for by := 0; by*v < d.height; by++ {
			for bx := 0; bx*h < d.width; bx++ {
				k := 2 * lay.n * (by*stride + bx)
				dequantize(&b, c[k:k+2*lay.n], lay, qt)
				if err := d.reconstructBlock(&b, bx, by, i); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// progBlock decodes one block's part of a progressive scan into cb, its
// coefficients as d.progLayout keeps them, with pnz the set of its non-zero AC
// positions (nil with skipAC), b scratch space and dc the component's DC
// prediction. The scan's tables and spectral and successive-approximation
// parameters are as processSOS read them.
func progBlock(d *decoder, cb coefs, pnz *uint64, b *block, dc *int32, dcT, acT *huffman, zigStart, zigEnd int32, ah, al uint32) error {
	lay := d.progLayout
	if ah != 0 {
		return refine(d, cb, lay, pnz, acT, zigStart, zigEnd, 1<<al)
	}
	zig := zigStart
	if zig == 0 {
		zig++
		// Decode the DC coefficient, as specified in section F.2.2.1.
		dcDelta, err := d.decodeDC(dcT)
		if err != nil {
			return err
		}
		*dc += dcDelta
		if !cb.set(0, *dc<<al) {
			return ErrCoefficientRange
		}
	}
	if zig <= zigEnd && d.eobRun > 0 {
		d.eobRun--
	} else if zig <= zigEnd {
		// Decode the AC coefficients, as specified in section F.2.2.2,
		// into b, and keep those the layout has.
		nz, err := d.decodeAC(b, &ones, acT, zig, zigEnd, al)
		if err != nil {
			return err
		}
		*pnz |= nz
		// Every coefficient decoded is range-checked, kept or not, so
		// that a first scan fails at every scale where it fails at scale 1
		// (a proving decode at 1/8 catches what a later full-size one would).
		var out int32 // non-zero if a coefficient left int16's range
		for m := nz; m != 0; m &= m - 1 {
			z := mbits.TrailingZeros64(m)
			v := b[unzig[z]]
			out |= v ^ int32(int16(v)) // #nosec G115 -- the range check itself
			if s := lay.slot[z]; s >= 0 {
				cb.set(s, v)
			}
		}
		if out != 0 {
			return ErrCoefficientRange
		}
	}
	return nil
}

// dequantize writes a block's kept coefficients cb, dequantized by qt, into b
// in natural order; the coefficients not kept are left as they are.
func dequantize(b *block, cb coefs, lay *layout, qt *block) {
	if lay.n == blockSize {
		cb = cb[:2*blockSize]
		for u := range b {
			b[u] = int32(int16(binary.LittleEndian.Uint16(cb[2*u:]))) * qt[u] // #nosec G115 -- the bits of an int16, stored by set
		}
		return
	}
	for s, u := range lay.natural[:lay.n] {
		b[u] = cb.get(s) * qt[u]
	}
}

// A layout is which coefficients of a block a progressive decode keeps
// between scans at a scale: those its inverse DCT reads. (Their zero/non-zero
// state is kept for all, in progNZ.)
type layout struct {
	n       int            // coefficients kept per block
	slot    [blockSize]int // slot[z]: where the coefficient at zig-zag position z is kept, or -1
	natural [blockSize]int // natural[s]: the natural-order position kept in slot s
}

// layouts are the layouts at scales 1, 1/2, 1/4 and 1/8: all 64
// coefficients in natural order (as image/jpeg); rows and columns 0-3 and
// 5-7 (49: idct4x4 does not read row or column 4); rows and columns 0, 1, 3,
// 5 and 7 (25, for idct2x2); DC alone.
var layouts = func() (ls [4]layout) {
	uses := [4]func(int) bool{
		func(int) bool { return true },
		func(i int) bool { return i != 4 },
		func(i int) bool { return i == 0 || i%2 == 1 },
		func(i int) bool { return i == 0 },
	}
	for shift, use := range uses {
		l := &ls[shift]
		for u := range blockSize {
			if use(u/8) && use(u%8) {
				l.natural[l.n] = u
				l.n++
			}
		}
		for z := range blockSize {
			l.slot[z] = -1
			for s, u := range l.natural[:l.n] {
				if u == unzig[z] {
					l.slot[z] = s
				}
			}
		}
	}
	return ls
}()

// plane returns component compIndex's plane of the destination image and its
// stride, or false for an invalid compIndex. (The plane of an empty image is
// nil.)
func (d *decoder) plane(compIndex int) ([]byte, int, bool) {
	if d.nComp == 1 {
		return d.img1.Pix, d.img1.Stride, true
	}
	switch compIndex {
	case 0:
		return d.img3.Y, d.img3.YStride, true
	case 1:
		return d.img3.Cb, d.img3.CStride, true
	case 2:
		return d.img3.Cr, d.img3.CStride, true
	case 3:
		return d.blackPix, d.blackStride, true
	}
	return nil, 0, false
}

// reconstructBlock performs the inverse DCT (full or reduced, as d.shift
// says) of b, whose coefficients are dequantized already, and stores the
// block to the image. (image/jpeg's also dequantizes.)
func (d *decoder) reconstructBlock(b *block, bx, by, compIndex int) error {
	dst, stride, ok := d.plane(compIndex)
	if !ok {
		return UnsupportedError("too many components")
	}
	bs := 8 >> d.shift
	dst = dst[bs*(by*stride+bx):]
	switch d.shift {
	case 0:
		idctStore(b, dst, stride)
	case 1:
		idct4x4(b, dst, stride)
	case 2:
		idct2x2(b, dst, stride)
	case 3:
		dst[0] = idct1x1(int(b[0]))
	}
	return nil
}

// skipEntropyData advances past the entropy-coded data of the current scan,
// without decoding it, up to the next marker other than RST0-7: the bytes
// after that are left for the marker loop in decode. Stuffed "\xff\x00"
// bytes and restart markers are part of the data.
func (d *decoder) skipEntropyData() error {
	d.bits = bits{}
	for {
		// Find the next 0xff.
		for {
			k := bytes.IndexByte(d.bytes.buf[d.bytes.i:d.bytes.j], 0xff)
			if k >= 0 {
				d.bytes.i += k + 1
				break
			}
			d.bytes.i = d.bytes.j
			if err := d.fill(); err != nil {
				return err
			}
		}
		// Read the byte after it. fill keeps the last two bytes of the
		// buffer, so the 0xff stays unreadable.
		for d.bytes.i == d.bytes.j {
			if err := d.fill(); err != nil {
				return err
			}
		}
		x := d.bytes.buf[d.bytes.i]
		if x == 0x00 || rst0Marker <= x && x <= rst7Marker {
			d.bytes.i++
			continue
		}
		// A marker (or 0xff fill bytes before one): give back the 0xff.
		d.bytes.i--
		return nil
	}
}

// findRST advances past the next RST restart marker that matches expectedRST.
// Other than I/O errors, it is also an error if we encounter an {0xFF, M}
// two-byte marker sequence where M is not 0x00, 0xFF or the expectedRST.
//
// This is similar to libjpeg's jdmarker.c's next_marker function.
// https://github.com/libjpeg-turbo/libjpeg-turbo/blob/2dfe6c0fe9e18671105e94f7cbf044d4a1d157e6/jdmarker.c#L892-L935
//
// Precondition: d.tmp[:2] holds the next two bytes of JPEG-encoded input
// (input in the d.readFull sense).
func (d *decoder) findRST(expectedRST uint8) error {
	for {
		// i is the index such that, at the bottom of the loop, we read 2-i
		// bytes into d.tmp[i:2], maintaining the invariant that d.tmp[:2]
		// holds the next two bytes of JPEG-encoded input. It is either 0 or 1,
		// so that each iteration advances by 1 or 2 bytes (or returns).
		i := 0

		if d.tmp[0] == 0xff {
			if d.tmp[1] == expectedRST {
				return nil
			} else if d.tmp[1] == 0xff {
				i = 1
			} else if d.tmp[1] != 0x00 {
				// libjpeg's jdmarker.c's jpeg_resync_to_restart does something
				// fancy here, treating RST markers within two (modulo 8) of
				// expectedRST differently from RST markers that are 'more
				// distant'. Until we see evidence that recovering from such
				// cases is frequent enough to be worth the complexity, we take
				// a simpler approach for now. Any marker that's not 0x00, 0xff
				// or expectedRST is a fatal FormatError.
				return FormatError("bad RST marker")
			}

		} else if d.tmp[1] == 0xff {
			d.tmp[0] = 0xff
			i = 1
		}

		if err := d.readFull(d.tmp[i:2]); err != nil {
			return err
		}
	}
}
