// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package jpegdec

// This file differs from image/jpeg's huffman.go (see the package doc): the
// bit reader is 64 bits wide and refilled up to 8 bytes at a time, the
// look-up table has 9 bits, and there are two more for AC coefficients
// (acLut, and skip for scale 1/8).
// The results are image/jpeg's, including for corrupt input:
//
//   - image/jpeg fails when it needs bits beyond the end of the
//     entropy-coded segment (a marker or the end of the input); so does
//     this decoder, which reads ahead but counts the bits it has (bits.n)
//     and fails when it needs more.
//   - image/jpeg decodes a code with its 8-bit look-up table when at least 8
//     bits are available, and bit by bit otherwise. The two can disagree for
//     a table whose code lengths over-subscribe the code space (which a
//     DHT segment can declare), so processDHT derives the 9-bit table from
//     image/jpeg's 8-bit one and its bit-by-bit decoding, and with fewer
//     than 8 bits available this decoder decodes bit by bit too.

import (
	"encoding/binary"
	"io"
)

// maxCodeLength is the maximum (inclusive) number of bits in a Huffman code.
const maxCodeLength = 16

// maxNCodes is the maximum (inclusive) number of codes in a Huffman tree.
const maxNCodes = 256

// lutSize is the log-2 size of the Huffman decoder's look-up tables.
const lutSize = 9

// huffman is a Huffman decoder, specified in section C.
type huffman struct {
	// length is the number of codes in the tree.
	nCodes int32
	// lut is the look-up table for the next lutSize bits in the bit-stream.
	// The high 8 bits of the uint16 are the encoded value. The low 8 bits
	// are the code length, or 0 if the next bits start no code of at most
	// lutSize bits.
	lut [1 << lutSize]uint16
	// acLut is, for an AC table, the look-up table of an AC coefficient and
	// its run, when the code and the coefficient's extra bits together fit
	// in lutSize bits. An entry is the coefficient (int16) << 16 | the run
	// (the value's high nibble) << 8 | the total length, or 0.
	acLut [1 << lutSize]int32
	// skip is, for an AC table, what skipACSeq needs of a code of up to
	// lutSize bits, other than an EOB: the zig-zag positions it advances
	// (its run + 1, or 16 for ZRL) << 8 | the bits of the code and its
	// coefficient's extra bits; or 0.
	skip [1 << lutSize]uint16
	// vals are the decoded values, sorted by their encoding.
	vals [maxNCodes]uint8
	// minCodes[i] is the minimum code of length i, or -1 if there are no
	// codes of that length.
	minCodes [maxCodeLength]int32
	// maxCodes[i] is the maximum code of length i, or -1 if there are no
	// codes of that length.
	maxCodes [maxCodeLength]int32
	// valsIndices[i] is the index into vals of minCodes[i].
	valsIndices [maxCodeLength]int32
}

// errShortHuffmanData means that an unexpected EOF occurred while decoding
// Huffman data.
var errShortHuffmanData = FormatError("short Huffman data")

// errMissingFF00 means that the entropy-coded data ended at a marker (an 0xff
// byte not followed by 0x00) before all the bits it needed.
var errMissingFF00 = FormatError("missing 0xff00 sequence")

// refill tops d.bits up to at least 57 bits, unless the entropy-coded
// segment ends first, in which case it sets d.bits.end. It is small enough to
// be inlined: when none of the next 8 bytes is 0xff, there is no byte
// stuffing or marker to look for, and it takes as many as fit at once.
// (After the end of the segment, the next byte is a marker's 0xff, or there
// are fewer than 8: refillBytes returns at once.)
func (d *decoder) refill() {
	if i := d.bytes.i; i+8 <= d.bytes.j && d.bits.n <= 56 {
		x := binary.BigEndian.Uint64(d.bytes.buf[i : i+8])
		if v := ^x; (v-0x0101010101010101)&^v&0x8080808080808080 == 0 {
			n := d.bits.n
			k := (64 - n) >> 3 // whole bytes that fit, 1..8
			s := 64 - 8*k      // n <= s < 64
			d.bits.a |= x >> (s & 63) << ((s - n) & 63)
			d.bits.n = n + 8*k
			d.bytes.i = i + int(k)
			return
		}
	}
	d.refillBytes()
}

// refillBytes is refill byte by byte.
func (d *decoder) refillBytes() {
	if d.bits.end || d.bits.n > 56 {
		return
	}
	i, j := d.bytes.i, d.bytes.j
	if j-i < 16 {
		d.refillSlow()
		return
	}
	// At most 8 bytes are taken, and each is at most 2 in the buffer, so
	// buf[:16] holds all that is looked at.
	buf := d.bytes.buf[i : i+16 : i+16]
	a, n := d.bits.a, d.bits.n
	k := 0
	for n <= 56 {
		c := buf[k&15]
		if c == 0xff {
			if buf[(k+1)&15] != 0x00 {
				// A marker: the segment ends here.
				d.bits.end, d.bits.err = true, errMissingFF00
				break
			}
			k++
		}
		k++
		a |= uint64(c) << (56 - n)
		n += 8
	}
	d.bytes.i = i + k
	d.bits.a, d.bits.n = a, n
}

// refillSlow is refill for when fewer than 16 bytes are buffered.
func (d *decoder) refillSlow() {
	for d.bits.n <= 56 {
		for d.bytes.i == d.bytes.j {
			if err := d.fill(); err != nil {
				d.endOfData(err)
				return
			}
		}
		c := d.bytes.buf[d.bytes.i]
		d.bytes.i++
		if c == 0xff {
			for d.bytes.i == d.bytes.j {
				// fill keeps the last two bytes, so the 0xff can be given
				// back.
				if err := d.fill(); err != nil {
					d.bytes.i--
					d.endOfData(err)
					return
				}
			}
			if d.bytes.buf[d.bytes.i] != 0x00 {
				d.bytes.i--
				d.bits.end, d.bits.err = true, errMissingFF00
				return
			}
			d.bytes.i++
		}
		d.bits.a |= uint64(c) << (56 - d.bits.n)
		d.bits.n += 8
	}
}

// endOfData records that reading the entropy-coded data failed with err.
func (d *decoder) endOfData(err error) {
	if err == io.ErrUnexpectedEOF {
		err = errShortHuffmanData
	}
	d.bits.end, d.bits.err = true, err
}

// needBits makes sure that at least n bits are available, or returns the
// error image/jpeg reports when they are not.
func (d *decoder) needBits(n uint) error {
	if d.bits.n < n {
		d.refill()
		if d.bits.n < n {
			return d.bits.err
		}
	}
	return nil
}

// receiveExtend is the composition of RECEIVE and EXTEND, specified in section
// F.2.2.1.
func (d *decoder) receiveExtend(t uint8) (int32, error) {
	if err := d.needBits(uint(t)); err != nil {
		return 0, err
	}
	if t == 0 {
		return 0, nil
	}
	x := int32(d.bits.a >> (64 - t)) // #nosec G115 -- t <= 16 (both callers), so the top t bits fit
	d.bits.a <<= t
	d.bits.n -= uint(t)
	return extend(x, t), nil
}

// extend is EXTEND, specified in section F.2.2.1, for t in 1..16.
func extend(x int32, t uint8) int32 {
	if x < 1<<((t-1)&31) {
		x += (-1 << (t & 31)) + 1
	}
	return x
}

// processDHT processes a Define Huffman Table marker, and initializes a huffman
// struct from its contents. Specified in section B.2.4.2.
func (d *decoder) processDHT(n int) error {
	for n > 0 {
		if n < 17 {
			return FormatError("DHT has wrong length")
		}
		if err := d.readFull(d.tmp[:17]); err != nil {
			return err
		}
		tc := d.tmp[0] >> 4
		if tc > maxTc {
			return FormatError("bad Tc value")
		}
		th := d.tmp[0] & 0x0f
		// The baseline th <= 1 restriction is specified in table B.5.
		if th > maxTh || (d.baseline && th > 1) {
			return FormatError("bad Th value")
		}
		h := &d.huff[tc][th]

		// Read nCodes and h.vals (and derive h.nCodes).
		// nCodes[i] is the number of codes with code length i.
		// h.nCodes is the total number of codes.
		h.nCodes = 0
		var nCodes [maxCodeLength]int32
		for i := range nCodes {
			nCodes[i] = int32(d.tmp[i+1])
			h.nCodes += nCodes[i]
		}
		if h.nCodes == 0 {
			return FormatError("Huffman table has zero length")
		}
		if h.nCodes > maxNCodes {
			return FormatError("Huffman table has excessive length")
		}
		n -= int(h.nCodes) + 17
		if n < 0 {
			return FormatError("DHT has wrong length")
		}
		if err := d.readFull(h.vals[:h.nCodes]); err != nil {
			return err
		}

		// Derive image/jpeg's 8-bit look-up table, exactly as it does
		// (including what it does for an over-subscribed table).
		var lut8 [256]uint16
		var x, code uint32
		for i := uint32(0); i < 8; i++ {
			code <<= 1
			for j := int32(0); j < nCodes[i]; j++ {
				// The codeLength is 1+i, so shift code by 8-(1+i) to
				// calculate the high bits for every 8-bit sequence
				// whose codeLength's high bits matches code.
				// The high 8 bits of lutValue are the encoded value.
				// The low 8 bits are 1 plus the codeLength.
				base := uint8(code << (7 - i)) // #nosec G115 -- as image/jpeg: the high bits of an 8-bit look-up index; truncation intended
				lutValue := uint16(h.vals[x])<<8 | uint16(2+i)
				for k := uint8(0); k < 1<<(7-i); k++ {
					lut8[base|k] = lutValue
				}
				code++
				x++
			}
		}

		// Derive minCodes, maxCodes, and valsIndices.
		var c, index int32
		for i, n := range nCodes {
			if n == 0 {
				h.minCodes[i] = -1
				h.maxCodes[i] = -1
				h.valsIndices[i] = -1
			} else {
				h.minCodes[i] = c
				h.maxCodes[i] = c + n - 1
				h.valsIndices[i] = index
				c += n
				index += n
			}
			c <<= 1
		}

		// Derive the 9-bit tables. Where image/jpeg's table has a code, so
		// does lut; elsewhere lut has what image/jpeg's bit-by-bit decoding
		// (decodeHuffmanSlow) finds in 9 bits, if anything.
		for p := range h.lut {
			var e uint16
			if v := lut8[p>>(lutSize-8)]; v != 0 {
				e = v&0xff00 | (v&0xff - 1)
			} else {
				for l := 1; l <= lutSize; l++ {
					code := int32(p >> (lutSize - l)) // #nosec G115 -- p < 1<<lutSize (9 bits)
					if code <= h.maxCodes[l-1] {
						e = uint16(h.vals[h.valsIndices[l-1]+code-h.minCodes[l-1]])<<8 | uint16(l)
						break
					}
				}
			}
			h.lut[p] = e
			h.acLut[p] = 0
			h.skip[p] = 0
			if tc != acTable || e == 0 {
				continue
			}
			// An AC coefficient whose code and extra bits fit in lutSize.
			l, v := uint(e&0xff), uint8(e>>8)
			run, size := v>>4, uint(v&0x0f)
			switch {
			case size != 0:
				h.skip[p] = uint16(run+1)<<8 | uint16(l+size) // #nosec G115 -- l <= lutSize, size <= 15
			case run == 0x0f:
				h.skip[p] = 16<<8 | uint16(l) // #nosec G115 -- l <= lutSize
			}
			if size == 0 || l+size > lutSize {
				continue
			}
			extra := int32(p>>(lutSize-l-size)) & (1<<size - 1) // #nosec G115 -- p < 1<<lutSize (9 bits)
			h.acLut[p] = extend(extra, uint8(size))<<16 | int32(run)<<8 | int32(l+size)
		}
	}
	return nil
}

// decodeHuffman returns the next Huffman-coded value from the bit-stream,
// decoded according to h. Its common case is inlined.
func (d *decoder) decodeHuffman(h *huffman) (uint8, error) {
	if d.bits.n >= maxCodeLength {
		if e := h.lut[d.bits.a>>(64-lutSize)]; e != 0 {
			d.bits.a <<= e & 63
			d.bits.n -= uint(e & 0xff)
			return uint8(e >> 8), nil
		}
	}
	return d.decodeHuffmanRefill(h)
}

// decodeHuffmanRefill is decodeHuffman when the bit buffer needs a refill,
// or the code is not in the look-up table.
func (d *decoder) decodeHuffmanRefill(h *huffman) (uint8, error) {
	if d.bits.n < maxCodeLength {
		d.refill()
		if d.bits.n < maxCodeLength {
			return d.decodeHuffmanTail(h)
		}
	}
	if e := h.lut[d.bits.a>>(64-lutSize)]; e != 0 {
		n := uint(e & 0xff)
		d.bits.a <<= n
		d.bits.n -= n
		return uint8(e >> 8), nil
	}
	return d.decodeHuffmanSlow(h)
}

// decodeHuffmanTail is decodeHuffman at the end of the entropy-coded data,
// with fewer than 16 bits left: image/jpeg uses its look-up table when at
// least 8 bits are left, and decodes bit by bit otherwise.
func (d *decoder) decodeHuffmanTail(h *huffman) (uint8, error) {
	if d.bits.n >= 8 {
		if e := h.lut[d.bits.a>>(64-lutSize)]; e != 0 && uint(e&0xff) <= d.bits.n {
			n := uint(e & 0xff)
			d.bits.a <<= n
			d.bits.n -= n
			return uint8(e >> 8), nil
		}
	}
	return d.decodeHuffmanSlow(h)
}

// decodeHuffmanSlow decodes the next value bit by bit, as image/jpeg's
// decodeHuffman's slow path does.
func (d *decoder) decodeHuffmanSlow(h *huffman) (uint8, error) {
	if h.nCodes == 0 {
		return 0, FormatError("uninitialized Huffman table")
	}
	for l := uint(1); l <= maxCodeLength; l++ {
		if err := d.needBits(l); err != nil {
			return 0, err
		}
		code := int32(d.bits.a >> (64 - l)) // #nosec G115 -- l <= maxCodeLength (16)
		if code <= h.maxCodes[l-1] {
			d.bits.a <<= l
			d.bits.n -= l
			return h.vals[h.valsIndices[l-1]+code-h.minCodes[l-1]], nil
		}
	}
	return 0, FormatError("bad Huffman code")
}

// decodeBit returns the next bit. Its common case is inlined.
func (d *decoder) decodeBit() (bool, error) {
	if d.bits.n == 0 {
		return d.decodeBitRefill()
	}
	ret := d.bits.a>>63 != 0
	d.bits.a <<= 1
	d.bits.n--
	return ret, nil
}

func (d *decoder) decodeBitRefill() (bool, error) {
	if err := d.needBits(1); err != nil {
		return false, err
	}
	ret := d.bits.a>>63 != 0
	d.bits.a <<= 1
	d.bits.n--
	return ret, nil
}

func (d *decoder) decodeBits(n int32) (uint32, error) {
	if n < 0 || n > 32 {
		return 0, FormatError("bad bit count")
	}
	if err := d.needBits(uint(n)); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	ret := uint32(d.bits.a >> (64 - n)) // #nosec G115 -- 0 < n <= 32: checked above
	d.bits.a <<= n
	d.bits.n -= uint(n)
	return ret, nil
}
