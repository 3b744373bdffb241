package jpegdec

import "encoding/binary"

// skipACSeq and eob are the AC loop of a sequential scan at scale 1/8,
// where the coefficients are not needed: decodeAC(nil, nil, h, 1, 63, 0),
// reading exactly the bits it reads and failing where it fails (near the
// end of the entropy-coded data, with fewer than 32 bits buffered, it hands
// over to decodeACTail).

// eob reads the rest of an EOBn code (val0 <= 14 bits, which are buffered)
// into d.eobRun, less the block that ends with it; it returns the bit buffer.
func (d *decoder) eob(a uint64, n uint, val0 int32) (uint64, uint) {
	eobRun := uint16(1) << (val0 & 15)
	if val0 != 0 {
		eobRun |= uint16(a >> ((64 - val0) & 63)) // #nosec G115 -- val0 <= 14 (4 bits, not 0x0f)
		a <<= val0 & 63
		n -= uint(val0) // #nosec G115 -- 0 < val0 <= 14
	}
	d.eobRun = eobRun - 1
	return a, n
}

// skipACSeq reads the AC coefficients of a block of a sequential scan
// without keeping them, for scale 1/8: decodeAC(nil, nil, h, 1, 63, 0). A
// code of up to lutSize bits and its extra bits are skipped together (see
// huffman.skip); an EOB, or a code the table does not have, is decoded as
// decodeAC decodes it.
func (d *decoder) skipACSeq(h *huffman) error {
	a, n := d.bits.a, d.bits.n
	zig := int32(1)
	for zig <= blockSize-1 {
		if n < 32 {
			// refill's fast path, inlined by hand.
			if i := d.bytes.i; i+8 <= d.bytes.j {
				x := binary.BigEndian.Uint64(d.bytes.buf[i : i+8])
				if v := ^x; (v-0x0101010101010101)&^v&0x8080808080808080 == 0 {
					k := (64 - n) >> 3 // whole bytes that fit, 1..8
					sh := 64 - 8*k
					a |= x >> (sh & 63) << ((sh - n) & 63)
					n += 8 * k
					d.bytes.i = i + int(k)
					goto decode
				}
			}
			d.bits.a, d.bits.n = a, n
			d.refill()
			a, n = d.bits.a, d.bits.n
			if n < 32 {
				_, err := d.decodeACTail(nil, nil, h, zig, blockSize-1, 0)
				return err
			}
		}
	decode:
		peek := a >> (64 - lutSize)
		if e := h.skip[peek]; e != 0 {
			// A code of up to lutSize bits and its extra bits, skipped
			// with one shift: unless the run passes the end of the block
			// (then image/jpeg stops without reading the extra bits).
			if z := zig + int32(e>>8); z <= blockSize {
				a <<= e & 63
				n -= uint(e & 0xff)
				zig = z
				continue
			}
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
				return err
			}
			a, n = d.bits.a, d.bits.n
			value = v
		}
		// At least 16 bits are left.
		val0 := int32(value >> 4)
		val1 := value & 0x0f
		if val1 != 0 {
			zig += val0
			if zig > blockSize-1 {
				break
			}
			a <<= val1 & 63
			n -= uint(val1)
		} else {
			if val0 != 0x0f {
				a, n = d.eob(a, n, val0)
				break
			}
			zig += 0x0f
		}
		zig++
	}
	d.bits.a, d.bits.n = a, n
	return nil
}
