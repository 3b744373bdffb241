// Package webpscan validates the RIFF container and image headers of an
// untrusted WebP file before any decoder allocates pixel memory for it.
//
// # Decoder weakness guarded against
//
// golang.org/x/image/webp reads chunks sequentially and acts on the first
// one that looks like an image, trusting the sizes it finds: an uncompressed
// ALPH chunk makes it allocate canvas-width*canvas-height bytes before it
// reads (or finds missing) the alpha data, the VP8 and VP8L decoders size
// their frame buffers from 14-bit header fields before looking at the
// compressed data, and anything after the first image chunk, including
// animation frames and data past the RIFF payload, is silently ignored. A
// small file can therefore claim a 16383x16383 canvas, or smuggle a second
// image or a different file format (a polyglot) that other WebP readers,
// such as libwebp in a browser, would interpret differently.
//
// [Scan] works over the whole file in memory. It checks that the RIFF size
// fits the file, walks every chunk of the RIFF payload with bounds-checked,
// overflow-safe arithmetic, parses the VP8X, VP8 and VP8L headers, requires
// exactly one image chunk whose dimensions agree with the VP8X canvas, and
// checks that an uncompressed ALPH chunk really holds width*height bytes. It
// reports the image dimensions so the caller can apply its pixel budget.
//
// Animated WebP (VP8X animation flag, ANIM or ANMF chunks) is rejected with
// [ErrUnsupported]: x/image/webp cannot decode animation (it skips the ANIM
// and ANMF chunks and then fails for lack of a top-level image chunk), so
// there is no point admitting it.
//
// Scan never allocates memory proportional to any size field read from the
// input and never panics.
package webpscan

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (wrapped with context) by [Scan]. Use [errors.Is]
// to test for them. Error strings never contain bytes copied from the input.
var (
	// ErrMalformed reports a structurally invalid WebP: bad RIFF header or
	// size, a chunk overrunning the RIFF payload, a missing padding byte,
	// a bad VP8/VP8L/VP8X/ALPH header, chunks in an order the format (or
	// x/image/webp) does not allow, mismatched canvas and frame sizes, or no
	// image chunk.
	ErrMalformed = errors.New("malformed WebP")

	// ErrUnsupported reports a valid WebP feature the decoder behind this
	// package cannot handle: animation.
	ErrUnsupported = errors.New("unsupported WebP feature")
)

// Info describes a WebP file as seen by [Scan].
type Info struct {
	// Width and Height are the image dimensions (equal to the VP8X canvas
	// when present). On success both are in 1..16384.
	Width, Height int
	// Lossless reports a VP8L (lossless) image chunk.
	Lossless bool
	// Alpha reports transparency: the VP8X alpha flag, an ALPH chunk or
	// the VP8L alpha hint.
	Alpha bool
	// AlphaCompressed reports an ALPH chunk compressed with VP8L (method 1),
	// which x/image/webp decodes into a full-canvas NRGBA image before it
	// copies out the alpha plane.
	AlphaCompressed bool
	// AlphaBytes is the size of the ALPH chunk's payload (0 without one).
	AlphaBytes int
	// Animated reports the VP8X animation flag or an ANIM/ANMF chunk.
	// Scan fails with ErrUnsupported whenever it is set.
	Animated bool
	// Extended reports the extended format (a VP8X chunk is present).
	Extended bool
	// Trailing is the number of bytes after the RIFF payload (after
	// 8+RIFF size). Decoders ignore them; a non-zero value may indicate a
	// polyglot file.
	Trailing int
}

// VP8X flag bits.
const (
	flagAnimation = 1 << 1
	flagAlpha     = 1 << 4
)

const (
	riffHeaderLen  = 12 // "RIFF" + size + "WEBP"
	chunkHeaderLen = 8
	vp8xLen        = 10
	vp8HeaderLen   = 10 // frame tag (3) + start code (3) + width (2) + height (2)
	vp8lHeaderLen  = 5
	vp8lSignature  = 0x2f
	// maxCanvasPixels is x/image/webp's bound on VP8X width*height.
	maxCanvasPixels = 1<<31 - 1
)

// state accumulates what Scan has seen while walking chunks.
type state struct {
	info           Info
	canvasW        uint32
	canvasH        uint32
	alphaFlag      bool
	seenALPH       bool
	seenImage      bool
	imageW, imageH int
}

// Scan validates data, which must hold an entire WebP file, and returns a
// summary of it.
//
// Scan checks:
//   - "RIFF", a little-endian size, "WEBP"; the size is at least 4 and at
//     most len(data)-8; bytes after the payload are allowed and counted in
//     Info.Trailing;
//   - every chunk header (8 bytes) lies in the payload, every chunk size fits
//     in what remains of the payload, and odd-sized chunks have their
//     padding byte inside the payload;
//   - the first chunk is VP8X, VP8 or VP8L (the simple format has no other
//     chunks before the image, and image.Decode's format sniffing expects
//     one of these); VP8X, if present, is first and unique, has size 10 and
//     a canvas of at most 2^31-1 pixels;
//   - animation (VP8X flag, ANIM, ANMF) is [ErrUnsupported];
//   - exactly one VP8 or VP8L chunk: VP8 is a key frame with start code
//     9d 01 2a, non-zero 14-bit width and height (scale bits ignored), and a
//     first partition that fits in the chunk; VP8L has signature 0x2f and
//     version 0;
//   - with VP8X, the canvas equals the image size;
//   - ALPH only with the VP8X alpha flag, at most once, before a VP8 image
//     (never with VP8L, which carries its own alpha), with compression 0 or
//     1, and for compression 0 at least width*height bytes of data; a VP8
//     image under the VP8X alpha flag must have an ALPH chunk (x/image/webp
//     rejects it otherwise);
//   - ICCP, EXIF, XMP and unknown chunks are skipped.
//
// On success the returned Info is complete. On error Scan returns the Info
// fields established before the failure (for example Animated and the
// canvas size with [ErrUnsupported]), or the zero Info if the RIFF header
// was rejected; a partial Info is for diagnostics only and must not be used
// to size a decode.
func Scan(data []byte) (Info, error) {
	var st state
	if len(data) < riffHeaderLen {
		return st.info, fmt.Errorf("webpscan: truncated RIFF header (%d bytes): %w", len(data), ErrMalformed)
	}
	if string(data[0:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return st.info, fmt.Errorf("webpscan: not a RIFF WEBP file: %w", ErrMalformed)
	}
	size := uint64(le32(data[4:8]))
	if size < 4 || size > uint64(len(data)-chunkHeaderLen) { // #nosec G115 -- len(data) >= the RIFF header length: checked above
		return st.info, fmt.Errorf("webpscan: RIFF size %d does not fit file of %d bytes: %w", size, len(data), ErrMalformed)
	}
	end := int(size) + chunkHeaderLen // #nosec G115 -- size <= len(data)-chunkHeaderLen: checked above, so end <= len(data)
	st.info.Trailing = len(data) - end

	pos := riffHeaderLen
	for index := 0; pos < end; index++ {
		if end-pos < chunkHeaderLen {
			return st.info, fmt.Errorf("webpscan: short chunk header at offset %d: %w", pos, ErrMalformed)
		}
		fourcc := string(data[pos : pos+4])
		csize := uint64(le32(data[pos+4 : pos+8]))
		start := pos
		pos += chunkHeaderLen
		if csize > uint64(end-pos) { // #nosec G115 -- pos <= end: the loop runs while a chunk header fits before end
			return st.info, fmt.Errorf("webpscan: chunk at offset %d: size %d exceeds remaining RIFF payload %d: %w",
				start, csize, end-pos, ErrMalformed)
		}
		payload := data[pos : pos+int(csize)] // #nosec G115 -- csize <= end-pos: checked above
		pos += int(csize)                     // #nosec G115 -- as above
		if csize&1 == 1 {
			if pos >= end {
				return st.info, fmt.Errorf("webpscan: chunk at offset %d: missing padding byte: %w", start, ErrMalformed)
			}
			pos++
		}

		if index == 0 && fourcc != "VP8X" && fourcc != "VP8 " && fourcc != "VP8L" {
			return st.info, fmt.Errorf("webpscan: first chunk is not VP8X, VP8 or VP8L: %w", ErrMalformed)
		}
		var err error
		switch fourcc {
		case "VP8X":
			if index != 0 {
				return st.info, fmt.Errorf("webpscan: VP8X chunk at offset %d is not the first chunk: %w", start, ErrMalformed)
			}
			err = st.vp8x(payload)
		case "ANIM", "ANMF":
			st.info.Animated = true
			err = fmt.Errorf("animation chunk (x/image/webp cannot decode animation): %w", ErrUnsupported)
		case "ALPH":
			err = st.alph(payload)
		case "VP8 ":
			err = st.vp8(payload)
		case "VP8L":
			err = st.vp8l(payload)
		default:
			// ICCP, EXIF, "XMP " and unknown chunks carry no pixels and
			// are skipped, as the container spec requires.
		}
		if err != nil {
			return st.info, fmt.Errorf("webpscan: chunk at offset %d: %w", start, err)
		}
	}

	if !st.seenImage {
		return st.info, fmt.Errorf("webpscan: no VP8 or VP8L image chunk: %w", ErrMalformed)
	}
	st.info.Width, st.info.Height = st.imageW, st.imageH
	return st.info, nil
}

// vp8x parses the extended-format header chunk.
func (st *state) vp8x(p []byte) error {
	if len(p) != vp8xLen {
		return fmt.Errorf("VP8X size %d, want %d: %w", len(p), vp8xLen, ErrMalformed)
	}
	st.info.Extended = true
	flags := p[0]
	st.alphaFlag = flags&flagAlpha != 0
	st.info.Alpha = st.alphaFlag
	st.canvasW = le24(p[4:7]) + 1
	st.canvasH = le24(p[7:10]) + 1
	st.info.Width, st.info.Height = int(st.canvasW), int(st.canvasH)
	if flags&flagAnimation != 0 {
		st.info.Animated = true
		return fmt.Errorf("VP8X animation flag (x/image/webp cannot decode animation): %w", ErrUnsupported)
	}
	if uint64(st.canvasW)*uint64(st.canvasH) > maxCanvasPixels {
		return fmt.Errorf("VP8X canvas %dx%d too large: %w", st.canvasW, st.canvasH, ErrMalformed)
	}
	return nil
}

// alph checks an alpha chunk against the VP8X canvas.
func (st *state) alph(p []byte) error {
	switch {
	case !st.alphaFlag:
		return fmt.Errorf("ALPH chunk without VP8X alpha flag: %w", ErrMalformed)
	case st.seenALPH:
		return fmt.Errorf("duplicate ALPH chunk: %w", ErrMalformed)
	case st.seenImage:
		return fmt.Errorf("ALPH chunk after image chunk: %w", ErrMalformed)
	case len(p) < 1:
		return fmt.Errorf("empty ALPH chunk: %w", ErrMalformed)
	}
	st.seenALPH = true
	st.info.Alpha = true
	st.info.AlphaBytes = len(p)
	switch p[0] & 0x03 { // compression method
	case 0:
		// x/image/webp allocates canvas width*height bytes and reads them
		// from the chunk; require them to be present.
		need := uint64(st.canvasW) * uint64(st.canvasH) // <= 2^31-1
		if uint64(len(p)-1) < need {                    // #nosec G115 -- len(p) >= 1: checked above
			return fmt.Errorf("uncompressed ALPH has %d bytes, canvas needs %d: %w", len(p)-1, need, ErrMalformed)
		}
	case 1:
		// VP8L-compressed; x/image/webp synthesises a 14-bit header.
		st.info.AlphaCompressed = true
		if st.canvasW > 1<<14 || st.canvasH > 1<<14 {
			return fmt.Errorf("compressed ALPH for %dx%d canvas exceeds 14-bit size: %w", st.canvasW, st.canvasH, ErrMalformed)
		}
	default:
		return fmt.Errorf("unknown ALPH compression method: %w", ErrMalformed)
	}
	return nil
}

// vp8 parses a lossy frame header (RFC 6386 section 9.1).
func (st *state) vp8(p []byte) error {
	if st.seenImage {
		return fmt.Errorf("second image chunk: %w", ErrMalformed)
	}
	if len(p) < vp8HeaderLen {
		return fmt.Errorf("VP8 chunk of %d bytes too short: %w", len(p), ErrMalformed)
	}
	tag := uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16
	if tag&1 != 0 {
		return fmt.Errorf("VP8 frame is not a key frame: %w", ErrMalformed)
	}
	if firstPartition := tag >> 5; uint64(firstPartition) > uint64(len(p)-vp8HeaderLen) { // #nosec G115 -- len(p) >= vp8HeaderLen: checked above
		return fmt.Errorf("VP8 first partition of %d bytes exceeds chunk: %w", firstPartition, ErrMalformed)
	}
	if p[3] != 0x9d || p[4] != 0x01 || p[5] != 0x2a {
		return fmt.Errorf("VP8 key frame start code missing: %w", ErrMalformed)
	}
	w := int(p[6]) | int(p[7]&0x3f)<<8 // top two bits are the scale
	h := int(p[8]) | int(p[9]&0x3f)<<8
	if w == 0 || h == 0 {
		return fmt.Errorf("VP8 frame size %dx%d: %w", w, h, ErrMalformed)
	}
	if st.info.Extended {
		if st.alphaFlag && !st.seenALPH {
			return fmt.Errorf("VP8X alpha flag set but no ALPH chunk before VP8: %w", ErrMalformed)
		}
		if uint32(w) != st.canvasW || uint32(h) != st.canvasH { // #nosec G115 -- 0 < w, h < 2^14: 14-bit fields
			return fmt.Errorf("VP8 frame %dx%d does not match VP8X canvas %dx%d: %w", w, h, st.canvasW, st.canvasH, ErrMalformed)
		}
	}
	st.seenImage = true
	st.imageW, st.imageH = w, h
	return nil
}

// vp8l parses a lossless image header.
func (st *state) vp8l(p []byte) error {
	if st.seenImage {
		return fmt.Errorf("second image chunk: %w", ErrMalformed)
	}
	if st.seenALPH {
		return fmt.Errorf("ALPH chunk before VP8L image: %w", ErrMalformed)
	}
	if len(p) < vp8lHeaderLen {
		return fmt.Errorf("VP8L chunk of %d bytes too short: %w", len(p), ErrMalformed)
	}
	if p[0] != vp8lSignature {
		return fmt.Errorf("VP8L signature missing: %w", ErrMalformed)
	}
	// 14 bits width-1, 14 bits height-1, 1 bit alpha hint, 3 bits version,
	// least significant bit first.
	bits := le32(p[1:5])
	w := int(bits&0x3fff) + 1
	h := int(bits>>14&0x3fff) + 1
	alpha := bits>>28&1 != 0
	if version := bits >> 29; version != 0 {
		return fmt.Errorf("VP8L version %d: %w", version, ErrMalformed)
	}
	if st.info.Extended && (uint32(w) != st.canvasW || uint32(h) != st.canvasH) {
		return fmt.Errorf("VP8L image %dx%d does not match VP8X canvas %dx%d: %w", w, h, st.canvasW, st.canvasH, ErrMalformed)
	}
	st.seenImage = true
	st.imageW, st.imageH = w, h
	st.info.Lossless = true
	st.info.Alpha = st.info.Alpha || alpha
	return nil
}

// le32 decodes a little-endian uint32 from the first four bytes of b.
func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// le24 decodes a little-endian 24-bit value from the first three bytes of b.
func le24(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
}
