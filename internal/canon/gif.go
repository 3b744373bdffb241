package canon

import "encoding/binary"

// netscapeLoop is the application extension image/gif writes for an animation, up to its
// loop count.
const netscapeLoop = "\x21\xff\x0bNETSCAPE2.0\x03\x01"

// GIF checks b against image/gif's layout and returns the logical screen's size and the
// number of frames.
func GIF(b []byte) (width, height, frames int, err error) {
	if len(b) < 13 || string(b[:6]) != "GIF89a" {
		return 0, 0, 0, fail("gif: no GIF89a header")
	}
	width, height = int(binary.LittleEndian.Uint16(b[6:])), int(binary.LittleEndian.Uint16(b[8:]))
	flags, aspect := b[10], b[12]
	if width == 0 || height == 0 {
		return 0, 0, 0, fail("gif: zero size")
	}
	if flags&^0x87 != 0 || flags != 0 && flags&0x80 == 0 || aspect != 0 || b[11] != 0 {
		return 0, 0, 0, fail("gif: screen descriptor our encoder does not write")
	}
	p := 13
	if flags&0x80 != 0 {
		p += 3 << (flags&7 + 1)
	}
	animated := false
	if len(b) >= p+len(netscapeLoop)+3 && string(b[p:p+len(netscapeLoop)]) == netscapeLoop {
		if b[p+len(netscapeLoop)+2] != 0 {
			return 0, 0, 0, fail("gif: looping extension not terminated")
		}
		p += len(netscapeLoop) + 3
		animated = true
	}
	for {
		if p >= len(b) {
			return 0, 0, 0, fail("gif: no trailer")
		}
		switch b[p] {
		case 0x3b:
			if p+1 != len(b) {
				return 0, 0, 0, fail("gif: %d bytes after the trailer", len(b)-p-1)
			}
			if frames == 0 || animated && frames < 2 {
				return 0, 0, 0, fail("gif: %d frames", frames)
			}
			return width, height, frames, nil
		case 0x21:
			// Only a graphic control extension, right before an image descriptor.
			if p+9 > len(b) || b[p+1] != 0xf9 || b[p+2] != 4 || b[p+3]&^0x1d != 0 || b[p+7] != 0 || b[p+8] != 0x2c {
				return 0, 0, 0, fail("gif: extension our encoder does not write")
			}
			p += 8
		case 0x2c:
			if p += 10; p > len(b) {
				return 0, 0, 0, fail("gif: image descriptor truncated")
			}
			d := b[p-9 : p]
			x, y := binary.LittleEndian.Uint16(d), binary.LittleEndian.Uint16(d[2:])
			w, h := binary.LittleEndian.Uint16(d[4:]), binary.LittleEndian.Uint16(d[6:])
			if w == 0 || h == 0 || int(x)+int(w) > width || int(y)+int(h) > height || d[8]&^0x87 != 0 || d[8] != 0 && d[8]&0x80 == 0 {
				return 0, 0, 0, fail("gif: image descriptor our encoder does not write")
			}
			if d[8] == 0 && flags == 0 {
				return 0, 0, 0, fail("gif: frame with no colour table")
			}
			if d[8]&0x80 != 0 {
				p += 3 << (d[8]&7 + 1)
			}
			if p >= len(b) || b[p] < 2 || b[p] > 8 {
				return 0, 0, 0, fail("gif: LZW code size our encoder does not write")
			}
			if p, err = subBlocks(b, p+1); err != nil {
				return 0, 0, 0, err
			}
			frames++
		default:
			return 0, 0, 0, fail("gif: block our encoder does not write")
		}
	}
}

// subBlocks walks image data sub-blocks from b[p] as image/gif writes them (255 bytes
// each but the last, then a terminator) and returns the offset after the terminator.
func subBlocks(b []byte, p int) (int, error) {
	for last := false; ; {
		if p >= len(b) {
			return 0, fail("gif: image data truncated")
		}
		n := int(b[p])
		if n == 0 {
			return p + 1, nil
		}
		if last {
			return 0, fail("gif: short data sub-block before the last")
		}
		last = n < 255
		if p += 1 + n; p > len(b) {
			return 0, fail("gif: image data truncated")
		}
	}
}
