package canon

import "encoding/binary"

// WebP checks b against the layouts libwebp (github.com/gen2brain/webp, through
// internal/codec) writes and returns the canvas size and the number of frames (1 for a
// still image):
//
//   - "RIFF", a size that is exactly the rest of b, "WEBP", then chunks with an 8-byte
//     header, padded to an even length with a zero byte, nothing after the last;
//   - a still image: one "VP8 " (a key frame) or one "VP8L" chunk (version 0), or VP8X
//     with only the alpha flag, then ALPH and "VP8 " of the canvas size;
//   - an animation: VP8X with the animation flag (and the alpha flag), ANIM, then one or
//     more ANMF, each a frame inside the canvas holding "VP8 " (after an optional ALPH) or
//     "VP8L" of the frame's size.
//
// No ICCP, EXIF, XMP or unknown chunk is accepted anywhere, and no VP8X flag for them.
func WebP(b []byte) (width, height, frames int, err error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return 0, 0, 0, fail("webp: no RIFF WEBP header")
	}
	if n := binary.LittleEndian.Uint32(b[4:]); int64(n) != int64(len(b))-8 {
		return 0, 0, 0, fail("webp: RIFF size %d for %d bytes", n, len(b)-8)
	}
	chunks, err := riffChunks(b[12:])
	if err != nil {
		return 0, 0, 0, err
	}
	switch {
	case len(chunks) == 1 && (chunks[0].typ == "VP8 " || chunks[0].typ == "VP8L"):
		w, h, _, err := webpBitstream(chunks)
		return w, h, 1, err
	case len(chunks) == 0 || chunks[0].typ != "VP8X":
		return 0, 0, 0, fail("webp: chunks our encoder does not write")
	}
	x := chunks[0].data
	if len(x) != 10 || x[1] != 0 || x[2] != 0 || x[3] != 0 {
		return 0, 0, 0, fail("webp: VP8X of %d bytes or with reserved bits", len(x))
	}
	const flagAlpha, flagAnim = 0x10, 0x02
	width, height = int(u24(x[4:]))+1, int(u24(x[7:]))+1
	switch x[0] {
	case flagAlpha: // ALPH, VP8
		if len(chunks) != 3 || chunks[1].typ != "ALPH" {
			return 0, 0, 0, fail("webp: VP8X still image without exactly ALPH and VP8")
		}
		w, h, _, err := webpBitstream(chunks[1:])
		if err != nil {
			return 0, 0, 0, err
		}
		if w != width || h != height {
			return 0, 0, 0, fail("webp: canvas %dx%d, bitstream %dx%d", width, height, w, h)
		}
		return width, height, 1, nil
	case flagAnim, flagAnim | flagAlpha:
	default:
		return 0, 0, 0, fail("webp: VP8X flags %#x", x[0])
	}
	if len(chunks) < 3 || chunks[1].typ != "ANIM" || len(chunks[1].data) != 6 {
		return 0, 0, 0, fail("webp: animation without ANIM")
	}
	for i, c := range chunks[2:] {
		if c.typ != "ANMF" || len(c.data) < 16 {
			return 0, 0, 0, fail("webp: chunk %d of the animation is not a frame", i+2)
		}
		f := c.data
		fx, fy := 2*int(u24(f)), 2*int(u24(f[3:]))
		fw, fh := int(u24(f[6:]))+1, int(u24(f[9:]))+1
		if f[15]&^0x03 != 0 {
			return 0, 0, 0, fail("webp: frame %d flags %#x", i, f[15])
		}
		if fx+fw > width || fy+fh > height {
			return 0, 0, 0, fail("webp: frame %d outside the canvas", i)
		}
		sub, err := riffChunks(f[16:])
		if err != nil {
			return 0, 0, 0, err
		}
		w, h, alpha, err := webpBitstream(sub)
		if err != nil {
			return 0, 0, 0, err
		}
		if w != fw || h != fh {
			return 0, 0, 0, fail("webp: frame %d is %dx%d, its bitstream %dx%d", i, fw, fh, w, h)
		}
		if alpha && x[0]&flagAlpha == 0 {
			return 0, 0, 0, fail("webp: frame %d has alpha, the canvas none", i)
		}
		frames++
	}
	return width, height, frames, nil
}

type riffChunk struct {
	typ  string
	data []byte
}

// riffChunks splits b into chunks, each padded to an even length with a zero byte, and
// refuses anything left over.
func riffChunks(b []byte) ([]riffChunk, error) {
	var out []riffChunk
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, fail("webp: chunk %d truncated", len(out))
		}
		n := int64(binary.LittleEndian.Uint32(b[4:]))
		padded := n + n&1
		if padded > int64(len(b))-8 {
			return nil, fail("webp: chunk %d longer than the data", len(out))
		}
		out = append(out, riffChunk{typ: string(b[:4]), data: b[8 : 8+n]})
		if n&1 == 1 && b[8+n] != 0 {
			return nil, fail("webp: chunk %d padded with a non-zero byte", len(out)-1)
		}
		b = b[8+padded:]
	}
	return out, nil
}

// webpBitstream checks a frame's chunks, [ALPH] "VP8 " or "VP8L", and returns the
// bitstream's size and whether it carries alpha.
func webpBitstream(c []riffChunk) (width, height int, alpha bool, err error) {
	if len(c) == 2 && c[0].typ == "ALPH" {
		// Reserved bits zero; compression 0 (raw) or 1 (lossless); ALPH precedes VP8 only.
		if len(c[0].data) < 2 || c[0].data[0]&0xc0 != 0 || c[0].data[0]&0x03 > 1 || c[1].typ != "VP8 " {
			return 0, 0, false, fail("webp: ALPH our encoder does not write")
		}
		w, h, err := vp8Size(c[1].data)
		return w, h, true, err
	}
	if len(c) != 1 {
		return 0, 0, false, fail("webp: %d chunks where one bitstream belongs", len(c))
	}
	switch c[0].typ {
	case "VP8 ":
		w, h, err := vp8Size(c[0].data)
		return w, h, false, err
	case "VP8L":
		d := c[0].data
		if len(d) < 6 || d[0] != 0x2f {
			return 0, 0, false, fail("webp: VP8L without its signature")
		}
		v := binary.LittleEndian.Uint32(d[1:])
		if v>>29 != 0 {
			return 0, 0, false, fail("webp: VP8L version %d", v>>29)
		}
		return int(v&0x3fff) + 1, int(v>>14&0x3fff) + 1, v>>28&1 == 1, nil
	}
	return 0, 0, false, fail("webp: chunk our encoder does not write")
}

// vp8Size reads a VP8 key frame's header: a key frame tag whose first partition fits the
// chunk, the start code, and a size with no scaling bits.
func vp8Size(d []byte) (width, height int, err error) {
	if len(d) < 10 {
		return 0, 0, fail("webp: VP8 of %d bytes", len(d))
	}
	tag := u24(d)
	if tag&1 != 0 || tag>>4&1 != 1 || int64(tag>>5) > int64(len(d))-10 {
		return 0, 0, fail("webp: VP8 frame tag our encoder does not write")
	}
	if d[3] != 0x9d || d[4] != 0x01 || d[5] != 0x2a {
		return 0, 0, fail("webp: VP8 without its start code")
	}
	w, h := binary.LittleEndian.Uint16(d[6:]), binary.LittleEndian.Uint16(d[8:])
	if w>>14 != 0 || h>>14 != 0 || w == 0 || h == 0 {
		return 0, 0, fail("webp: VP8 scaled or empty")
	}
	return int(w), int(h), nil
}

// u24 reads a little-endian 24-bit number.
func u24(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 }
