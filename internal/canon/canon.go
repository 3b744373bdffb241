// Package canon checks, without decoding a pixel, that an encoded image has exactly the
// container layout this module's encoders write (image/png, image/jpeg and image/gif of
// the Go standard library, as the root package calls them): the chunk, segment and block
// kinds they emit, in their order, with nothing after the end marker.
//
// The host of an isolated decode uses it on a worker's answer before serving it: a worker
// that a hostile input took over can choose any pixels, but not smuggle text chunks,
// application segments, comments, or a ZIP appended after the image into a rendition served
// with immutable caching.
//
// What each check accepts:
//
//   - PNG: the signature; IHDR with one of the bit depth and colour type pairs image/png
//     writes (grey 8/16, RGB 8/16, RGBA 8/16, paletted 1/2/4/8), compression, filter and
//     interlace 0; PLTE (1 to 256 entries, not longer than the bit depth allows) and then
//     optionally tRNS (not longer than PLTE) for paletted images only; one or more
//     consecutive non-empty IDAT; an empty IEND; nothing after. Every CRC is verified.
//   - JPEG: SOI; one DQT holding both tables image/jpeg derives from the quality; SOF0 with
//     8-bit precision and the encoder's own one or three components; DHT with the encoder's
//     fixed Huffman tables; the encoder's SOS header; entropy-coded data in which 0xFF is
//     only ever followed by a stuffed 0x00; EOI as the last two bytes.
//   - GIF: "GIF89a"; a logical screen descriptor with no flag but the global colour
//     table's, and background index and aspect ratio 0; the global colour table; the
//     NETSCAPE2.0 looping extension, only right after it and only for animations; then
//     frames of an optional graphic control extension (disposal and transparency bits
//     only) and an image descriptor (not interlaced, inside the screen) with an optional
//     local colour table, an LZW code size of 2 to 8, and data sub-blocks of 255 bytes
//     but the last; the trailer, last.
//
// Every failure wraps [ErrNotCanonical]; error text never quotes the checked bytes.
package canon

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// ErrNotCanonical is wrapped by every error of this package: the bytes are not laid out as
// our encoder lays them out.
var ErrNotCanonical = errors.New("not our encoder's layout")

func fail(format string, a ...any) error {
	return fmt.Errorf(format+": %w", append(a, ErrNotCanonical)...)
}

const pngSignature = "\x89PNG\r\n\x1a\n"

// PNG checks b against image/png's layout and returns the image's size from IHDR.
func PNG(b []byte) (width, height int, err error) {
	if !bytes.HasPrefix(b, []byte(pngSignature)) {
		return 0, 0, fail("png: no signature")
	}
	b = b[len(pngSignature):]
	const (
		wantIHDR  = iota
		wantPLTE  // paletted: PLTE next
		afterPLTE // tRNS or IDAT
		wantIDAT  // IDAT
		inIDAT    // IDAT or IEND
	)
	state := wantIHDR
	var depth, colorType byte
	var paletteLen int
	for i := 0; ; i++ {
		if len(b) < 12 {
			return 0, 0, fail("png: chunk %d truncated", i)
		}
		n := binary.BigEndian.Uint32(b)
		if n > 1<<31-1 || int64(n) > int64(len(b))-12 {
			return 0, 0, fail("png: chunk %d longer than the data", i)
		}
		typ, data := string(b[4:8]), b[8:8+n]
		if crc32.ChecksumIEEE(b[4:8+n]) != binary.BigEndian.Uint32(b[8+n:]) {
			return 0, 0, fail("png: chunk %d has a bad CRC", i)
		}
		b = b[12+n:]
		switch {
		case typ == "IHDR" && state == wantIHDR:
			if n != 13 {
				return 0, 0, fail("png: IHDR of %d bytes", n)
			}
			w, h := binary.BigEndian.Uint32(data), binary.BigEndian.Uint32(data[4:])
			if w == 0 || h == 0 || w > 1<<31-1 || h > 1<<31-1 {
				return 0, 0, fail("png: size out of range")
			}
			width, height = int(w), int(h)
			depth, colorType = data[8], data[9]
			if !pngPair(depth, colorType) || data[10] != 0 || data[11] != 0 || data[12] != 0 {
				return 0, 0, fail("png: IHDR our encoder does not write")
			}
			state = wantIDAT
			if colorType == 3 {
				state = wantPLTE
			}
		case typ == "PLTE" && state == wantPLTE:
			if n == 0 || n%3 != 0 || n/3 > 1<<depth {
				return 0, 0, fail("png: PLTE of %d bytes", n)
			}
			paletteLen = int(n / 3)
			state = afterPLTE
		case typ == "tRNS" && state == afterPLTE:
			if n == 0 || int(n) > paletteLen {
				return 0, 0, fail("png: tRNS of %d bytes", n)
			}
			state = wantIDAT
		case typ == "IDAT" && (state == afterPLTE || state == wantIDAT || state == inIDAT):
			if n == 0 {
				return 0, 0, fail("png: empty IDAT")
			}
			state = inIDAT
		case typ == "IEND" && state == inIDAT:
			if n != 0 {
				return 0, 0, fail("png: IEND with data")
			}
			if len(b) != 0 {
				return 0, 0, fail("png: %d bytes after IEND", len(b))
			}
			return width, height, nil
		default:
			return 0, 0, fail("png: chunk %d is not one our encoder writes there", i)
		}
	}
}

// pngPair reports whether image/png writes bit depth d with colour type ct.
func pngPair(d, ct byte) bool {
	switch ct {
	case 0, 2, 6: // grey, RGB, RGBA
		return d == 8 || d == 16
	case 3: // paletted
		return d == 1 || d == 2 || d == 4 || d == 8
	}
	return false
}
