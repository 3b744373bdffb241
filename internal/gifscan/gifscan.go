// Package gifscan validates the block structure of an untrusted GIF file
// before any decoder allocates pixel memory for it.
//
// # Decoder weakness guarded against
//
// Go's image/gif decoder allocates an [image.Paletted] of width*height bytes
// for every image descriptor it meets, before it has read (or could know
// that it will never be able to read) the frame's LZW data. [gif.DecodeAll]
// additionally keeps every frame, so a small file that repeats a tiny image
// descriptor thousands of times, each claiming a 65535x65535 rectangle with a
// few bytes of LZW data, makes the decoder allocate and decompress far more
// than the file size suggests ("decompression bomb" by frame count and
// frame area). The decoder also accepts empty (zero-width or zero-height)
// frames, and it silently ignores anything after the trailer, which lets a
// GIF double as another file format (a polyglot).
//
// [Scan] walks the whole block structure over an in-memory byte slice,
// skipping LZW data sub-blocks by their length bytes without decompressing
// anything, and reports the logical screen size, the number of frames and the
// total frame area so the caller can apply its own pixel budget before
// decoding. It stops with [ErrTooManyFrames] as soon as the frame limit is
// exceeded, without walking the rest of the file.
//
// Scan is deliberately stricter than image/gif: every frame rectangle must be
// non-empty and lie fully inside the logical screen, and extension layouts
// that image/gif and a spec-following parser would read differently are
// rejected. It never allocates memory proportional to any size field read
// from the input, and never panics.
//
// [image.Paletted]: https://pkg.go.dev/image#Paletted
// [gif.DecodeAll]: https://pkg.go.dev/image/gif#DecodeAll
package gifscan

import (
	"errors"
	"fmt"
	"math"
)

// Sentinel errors returned (wrapped with context) by [Scan]. Use [errors.Is]
// to test for them. Error strings never contain bytes copied from the input.
var (
	// ErrMalformed reports a structurally invalid GIF: bad signature,
	// truncated data, a missing trailer, an unknown block introducer or
	// extension label, an LZW minimum code size outside 2..8, a frame with
	// no color table or no image data, or a file with no frames.
	ErrMalformed = errors.New("malformed GIF")

	// ErrFrameBounds reports a zero-sized logical screen, or a frame whose
	// rectangle is empty or does not lie fully inside the logical screen.
	ErrFrameBounds = errors.New("invalid GIF screen or frame bounds")

	// ErrTooManyFrames reports that the file holds more image descriptors
	// than the caller's maxFrames limit.
	ErrTooManyFrames = errors.New("too many GIF frames")
)

// Info describes a GIF file as seen by [Scan].
type Info struct {
	// Width and Height are the logical screen dimensions, from the logical
	// screen descriptor. On success both are in 1..65535.
	Width, Height int

	// Frames is the number of image descriptors (frames) fully walked.
	Frames int

	// FramePixels is the sum over all frames of frame width*height. It is
	// the number of palette indexes a decoder that keeps every frame (such
	// as gif.DecodeAll) will allocate. It saturates at math.MaxInt64.
	FramePixels int64

	// LoopCount is the loop count from a NETSCAPE2.0 application extension,
	// with the same meaning as gif.GIF.LoopCount: -1 if there is no such
	// extension (show each frame once), 0 to loop forever, otherwise the
	// number of extra loops.
	LoopCount int

	// Trailing is the number of bytes after the trailer byte (0x3B). They
	// are ignored by decoders, but a non-zero value may indicate a polyglot
	// file carrying another format's payload.
	Trailing int
}

// Block introducers, extension labels and field masks from the GIF89a spec.
const (
	introExtension = 0x21
	introImage     = 0x2C
	introTrailer   = 0x3B

	labelPlainText      = 0x01
	labelGraphicControl = 0xF9
	labelComment        = 0xFE
	labelApplication    = 0xFF

	flagColorTable     = 0x80
	maskColorTableBits = 0x07

	headerLen     = 13 // signature (6) + logical screen descriptor (7)
	descriptorLen = 9  // image descriptor after its 0x2C introducer
)

// Scan validates data, which must hold an entire GIF file, and returns a
// summary of it. maxFrames is the largest number of frames accepted; as soon
// as an image descriptor would take the count above maxFrames, Scan stops and
// returns [ErrTooManyFrames] without looking at the rest of the file. A
// maxFrames below 1 therefore rejects every GIF (a GIF must have at least
// one frame).
//
// Scan checks, in file order:
//   - the "GIF87a" or "GIF89a" signature and a complete logical screen
//     descriptor with non-zero width and height;
//   - the global color table, if flagged, is fully present;
//   - every block introducer is an extension (0x21), an image descriptor
//     (0x2C) or the trailer (0x3B);
//   - extensions are plain text (0x01), graphic control (0xF9), comment
//     (0xFE) or application (0xFF), the only labels image/gif accepts; the
//     graphic control extension has the exact 4-byte layout image/gif
//     requires, and the fixed-size first sub-blocks of plain text (12) and
//     application (non-zero) extensions are well formed, so image/gif and a
//     spec-following parser read the same block boundaries;
//   - every frame rectangle is non-empty and fully inside the logical screen;
//   - every frame has a local or global color table (image/gif rejects
//     frames with neither), an LZW minimum code size in 2..8 and at least one
//     non-empty data sub-block; the LZW data is skipped by its sub-block
//     length bytes, never decompressed;
//   - at least one frame precedes the trailer, and the trailer is present.
//
// On success the returned Info is complete. On error Scan returns the Info
// accumulated so far: the zero Info if the signature or logical screen
// descriptor could not be read, otherwise Width, Height and the counts of
// the frames fully walked before the failure (for [ErrTooManyFrames],
// Frames == maxFrames). A partial Info is for diagnostics only and must not
// be used to size a decode.
//
// Scan never panics, allocates nothing that depends on the input, and runs
// in time linear in len(data).
func Scan(data []byte, maxFrames int) (Info, error) {
	var info Info
	if len(data) < headerLen {
		return info, fmt.Errorf("gifscan: truncated header (%d bytes): %w", len(data), ErrMalformed)
	}
	if sig := string(data[:6]); sig != "GIF87a" && sig != "GIF89a" {
		return info, fmt.Errorf("gifscan: unrecognised signature: %w", ErrMalformed)
	}
	info.Width = le16(data[6:])
	info.Height = le16(data[8:])
	info.LoopCount = -1
	if info.Width == 0 || info.Height == 0 {
		return info, fmt.Errorf("gifscan: zero-sized logical screen %dx%d: %w", info.Width, info.Height, ErrFrameBounds)
	}

	s := scanner{data: data, pos: headerLen}
	fields := data[10]
	hasGlobalTable := fields&flagColorTable != 0
	if hasGlobalTable {
		if err := s.skip(colorTableLen(fields)); err != nil {
			return info, fmt.Errorf("gifscan: global color table: %w", err)
		}
	}

	for {
		intro, err := s.byte()
		if err != nil {
			return info, fmt.Errorf("gifscan: missing trailer: %w", err)
		}
		switch intro {
		case introExtension:
			if err := s.extension(&info); err != nil {
				return info, err
			}

		case introImage:
			if info.Frames >= maxFrames {
				return info, fmt.Errorf("gifscan: more than %d frames (descriptor at offset %d): %w",
					maxFrames, s.pos-1, ErrTooManyFrames)
			}
			pixels, err := s.frame(&info, hasGlobalTable)
			if err != nil {
				return info, fmt.Errorf("gifscan: frame %d: %w", info.Frames, err)
			}
			info.Frames++
			if info.FramePixels > math.MaxInt64-pixels {
				info.FramePixels = math.MaxInt64
			} else {
				info.FramePixels += pixels
			}

		case introTrailer:
			if info.Frames == 0 {
				return info, fmt.Errorf("gifscan: trailer before any frame: %w", ErrMalformed)
			}
			info.Trailing = len(data) - s.pos
			return info, nil

		default:
			return info, fmt.Errorf("gifscan: unknown block introducer at offset %d: %w", s.pos-1, ErrMalformed)
		}
	}
}

// scanner is a bounds-checked cursor over the input.
type scanner struct {
	data []byte
	pos  int // always 0 <= pos <= len(data)
}

// byte consumes one byte.
func (s *scanner) byte() (byte, error) {
	if s.pos >= len(s.data) {
		return 0, fmt.Errorf("unexpected end of data at offset %d: %w", s.pos, ErrMalformed)
	}
	b := s.data[s.pos]
	s.pos++
	return b, nil
}

// take consumes n bytes and returns them.
func (s *scanner) take(n int) ([]byte, error) {
	if n < 0 || n > len(s.data)-s.pos {
		return nil, fmt.Errorf("need %d bytes at offset %d, have %d: %w", n, s.pos, len(s.data)-s.pos, ErrMalformed)
	}
	b := s.data[s.pos : s.pos+n]
	s.pos += n
	return b, nil
}

// skip consumes n bytes.
func (s *scanner) skip(n int) error {
	_, err := s.take(n)
	return err
}

// subBlocks skips a sequence of data sub-blocks up to and including the
// zero-length block terminator, returning the number of payload bytes.
func (s *scanner) subBlocks() (int, error) {
	total := 0
	for {
		n, err := s.byte()
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
		if err := s.skip(int(n)); err != nil {
			return total, err
		}
		total += int(n) // bounded by len(data); cannot overflow
	}
}

// extension walks one extension block; the 0x21 introducer is consumed.
func (s *scanner) extension(info *Info) error {
	start := s.pos - 1
	label, err := s.byte()
	if err != nil {
		return fmt.Errorf("gifscan: extension at offset %d: %w", start, err)
	}
	switch label {
	case labelGraphicControl:
		// image/gif reads exactly: size(=4), 4 bytes, terminator(=0).
		b, err := s.take(6)
		if err != nil {
			return fmt.Errorf("gifscan: graphic control extension at offset %d: %w", start, err)
		}
		if b[0] != 4 || b[5] != 0 {
			return fmt.Errorf("gifscan: graphic control extension at offset %d has bad layout: %w", start, ErrMalformed)
		}
		return nil

	case labelPlainText:
		// image/gif reads 13 raw bytes (size byte + 12) before the
		// sub-blocks; the spec says that first block has size 12. Requiring
		// 12 keeps both readings identical.
		if s.pos >= len(s.data) || s.data[s.pos] != 12 {
			if s.pos >= len(s.data) {
				return fmt.Errorf("gifscan: plain text extension at offset %d: truncated: %w", start, ErrMalformed)
			}
			return fmt.Errorf("gifscan: plain text extension at offset %d has bad header size: %w", start, ErrMalformed)
		}

	case labelApplication:
		// image/gif reads a size byte and that many bytes, then sub-blocks.
		// A zero size would be a block terminator to a spec-following
		// parser but not to image/gif, so reject it.
		if s.pos >= len(s.data) {
			return fmt.Errorf("gifscan: application extension at offset %d: truncated: %w", start, ErrMalformed)
		}
		if s.data[s.pos] == 0 {
			return fmt.Errorf("gifscan: application extension at offset %d has empty identifier block: %w", start, ErrMalformed)
		}
		if err := s.application(info); err != nil {
			return fmt.Errorf("gifscan: application extension at offset %d: %w", start, err)
		}
		return nil

	case labelComment:
		// Only sub-blocks.

	default:
		// image/gif rejects unknown extension labels.
		return fmt.Errorf("gifscan: unknown extension label at offset %d: %w", start, ErrMalformed)
	}
	if _, err := s.subBlocks(); err != nil {
		return fmt.Errorf("gifscan: extension at offset %d: %w", start, err)
	}
	return nil
}

// application walks an application extension starting at its identifier
// block (known to be non-empty), recording a NETSCAPE2.0 loop count.
func (s *scanner) application(info *Info) error {
	n, err := s.byte()
	if err != nil {
		return err
	}
	id, err := s.take(int(n))
	if err != nil {
		return err
	}
	if string(id) == "NETSCAPE2.0" {
		// Same interpretation as image/gif: a first data sub-block of
		// length 3 starting with 1 carries a little-endian loop count.
		if s.pos+4 <= len(s.data) && s.data[s.pos] == 3 && s.data[s.pos+1] == 1 {
			info.LoopCount = le16(s.data[s.pos+2:])
		}
	}
	_, err = s.subBlocks()
	return err
}

// frame walks one image: descriptor (0x2C consumed), local color table,
// LZW minimum code size and data sub-blocks. It returns the frame area.
func (s *scanner) frame(info *Info, hasGlobalTable bool) (int64, error) {
	start := s.pos - 1
	d, err := s.take(descriptorLen)
	if err != nil {
		return 0, fmt.Errorf("image descriptor at offset %d: %w", start, err)
	}
	left, top := le16(d[0:]), le16(d[2:])
	w, h := le16(d[4:]), le16(d[6:])
	fields := d[8]
	// All values are at most 65535, so the sums cannot overflow an int.
	if w == 0 || h == 0 || left+w > info.Width || top+h > info.Height {
		return 0, fmt.Errorf("rectangle (%d,%d)+%dx%d at offset %d not inside %dx%d screen: %w",
			left, top, w, h, start, info.Width, info.Height, ErrFrameBounds)
	}
	if fields&flagColorTable != 0 {
		if err := s.skip(colorTableLen(fields)); err != nil {
			return 0, fmt.Errorf("local color table: %w", err)
		}
	} else if !hasGlobalTable {
		return 0, fmt.Errorf("no global or local color table: %w", ErrMalformed)
	}
	lit, err := s.byte()
	if err != nil {
		return 0, fmt.Errorf("LZW minimum code size: %w", err)
	}
	if lit < 2 || lit > 8 {
		return 0, fmt.Errorf("LZW minimum code size %d out of range 2..8: %w", lit, ErrMalformed)
	}
	n, err := s.subBlocks()
	if err != nil {
		return 0, fmt.Errorf("image data: %w", err)
	}
	if n == 0 {
		return 0, fmt.Errorf("empty image data: %w", ErrMalformed)
	}
	return int64(w) * int64(h), nil
}

// colorTableLen returns the size in bytes of the color table described by a
// packed fields byte: 3 * 2^(1+N).
func colorTableLen(fields byte) int {
	return 3 << (1 + uint(fields&maskColorTableBits))
}

// le16 decodes a little-endian uint16 from the first two bytes of b.
func le16(b []byte) int {
	return int(b[0]) | int(b[1])<<8
}
