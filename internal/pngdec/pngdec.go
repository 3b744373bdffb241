// Package pngdec is a PNG decoder over an in-memory file that hands rows to a
// callback as they are inflated and unfiltered, so that a caller that shrinks
// the image never holds the full frame. Decode builds the same image.Image
// that image/png.Decode returns (same type, same pixels, same palette); the
// fuzz target checks that, and that pngdec fails wherever image/png fails.
//
// Chunk handling follows image/png exactly: the same chunk order rules, every
// chunk's CRC verified (ancillary chunks are CRC-checked and skipped, never
// inflated: a zlib bomb in zTXt or iCCP costs one CRC pass), IDAT chunks read
// with image/png's Read semantics and inflated by internal/inflate (which
// accepts and refuses what compress/zlib does), and image/png's reads through
// its bufio.Reader replayed, so that the zlib stream, its Adler-32 and the
// "too much pixel data" check behave identically (idat.go).
// Inflation stops after the rows the header implies plus one byte, so an
// oversize or endless IDAT stream is refused without being inflated.
//
// Interlaced (Adam7) images are decoded into one full buffer (as image/png
// does) and then emitted row by row; StreamBytes accounts for that buffer.
package pngdec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Errors returned by this package wrap one of these.
var (
	// ErrFormat: the data is not a valid PNG file (as image/png would say).
	ErrFormat = errors.New("pngdec: invalid format")
	// ErrUnsupported: a valid PNG feature image/png does not support either.
	ErrUnsupported = errors.New("pngdec: unsupported feature")
	// ErrTooLarge: width×height exceeds Options.MaxPixels.
	ErrTooLarge = errors.New("pngdec: image too large")
)

// Layout is the pixel layout of the rows Stream hands to its callback: 8
// bits per sample, non-premultiplied alpha.
type Layout uint8

// The layouts of streamed rows.
const (
	Gray      Layout = iota + 1 // 1 byte per pixel
	GrayAlpha                   // 2 bytes per pixel: Y, A
	RGB                         // 3 bytes per pixel
	RGBA                        // 4 bytes per pixel, non-premultiplied
)

// BytesPerPixel is the size of one pixel of the layout.
func (l Layout) BytesPerPixel() int {
	switch l {
	case Gray:
		return 1
	case GrayAlpha:
		return 2
	case RGB:
		return 3
	case RGBA:
		return 4
	}
	return 0
}

// Info describes a PNG file: what IHDR, PLTE and tRNS say.
type Info struct {
	Width, Height int
	Depth         int  // bits per sample: 1, 2, 4, 8 or 16
	ColorType     int  // 0 gray, 2 truecolour, 3 palette, 4 gray+alpha, 6 truecolour+alpha
	Interlaced    bool // Adam7
	// Layout is the layout of streamed rows: Gray or RGB for opaque images,
	// GrayAlpha or RGBA when the file has an alpha channel or a tRNS chunk.
	Layout Layout
}

// Options bound a decode.
type Options struct {
	// MaxPixels, when positive, refuses (ErrTooLarge) an image of more pixels
	// before anything is allocated for it.
	MaxPixels int64
	// Ctx, when not nil, is checked every few rows; its error is returned.
	Ctx context.Context
}

// ctxRows is how often (in rows) a decode checks its context.
const ctxRows = 32

const (
	ctGray      = 0
	ctTrueColor = 2
	ctPaletted  = 3
	ctGrayAlpha = 4
	ctTrueAlpha = 6
)

const (
	dsStart = iota
	dsSeenIHDR
	dsSeenPLTE
	dsSeentRNS
	dsSeenIDAT
	dsSeenIEND
)

const pngHeader = "\x89PNG\r\n\x1a\n"

// decoder holds the parse state; its fields mirror image/png's decoder.
type decoder struct {
	data []byte
	pos  int
	crc  uint32

	info  Info
	stage int

	// palette: PLTE entries (RGB), count np; tRNS alpha for palette entries,
	// count ntrns. Entries past np are black, as image/png's.
	plte  [256][3]byte
	np    int
	alpha [256]byte
	ntrns int

	useTransparent bool
	transparent    [6]byte

	idatLength uint32
	opts       Options
}

func formatErr(msg string) error { return fmt.Errorf("%w: %s", ErrFormat, msg) }

// readFull returns the next n bytes with io.ReadFull's errors over a
// bytes.Reader: io.EOF if none is left, io.ErrUnexpectedEOF if fewer than n.
func (d *decoder) readFull(n int) ([]byte, error) {
	rest := len(d.data) - d.pos
	if rest == 0 {
		return nil, io.EOF
	}
	if rest < n {
		d.pos = len(d.data)
		return nil, io.ErrUnexpectedEOF
	}
	b := d.data[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *decoder) verifyChecksum() error {
	b, err := d.readFull(4)
	if err != nil {
		return err
	}
	if binary.BigEndian.Uint32(b) != d.crc {
		return formatErr("invalid checksum")
	}
	return nil
}

func (d *decoder) checkHeader() error {
	b, err := d.readFull(len(pngHeader))
	if err != nil {
		return err
	}
	if string(b) != pngHeader {
		return formatErr("not a PNG file")
	}
	return nil
}

func (d *decoder) paletted() bool  { return d.info.ColorType == ctPaletted }
func (d *decoder) trueColor() bool { return d.info.ColorType == ctTrueColor }

func (d *decoder) parseIHDR(length uint32) error {
	if length != 13 {
		return formatErr("bad IHDR length")
	}
	b, err := d.readFull(13)
	if err != nil {
		return err
	}
	d.crc = crc32.Update(d.crc, crc32.IEEETable, b)
	if b[10] != 0 {
		return fmt.Errorf("%w: compression method", ErrUnsupported)
	}
	if b[11] != 0 {
		return fmt.Errorf("%w: filter method", ErrUnsupported)
	}
	if b[12] > 1 {
		return formatErr("invalid interlace method")
	}
	w := int32(binary.BigEndian.Uint32(b[0:4])) // #nosec G115 -- image/png reads it as int32; <= 0 is refused below
	h := int32(binary.BigEndian.Uint32(b[4:8])) // #nosec G115 -- as above
	if w <= 0 || h <= 0 {
		return formatErr("non-positive dimension")
	}
	n := int64(w) * int64(h)
	if n > 1<<59 { // image/png: nPixels*8 must not overflow int
		return fmt.Errorf("%w: dimension overflow", ErrUnsupported)
	}
	depth, ct := int(b[8]), int(b[9])
	ok := false
	switch depth {
	case 1, 2, 4:
		ok = ct == ctGray || ct == ctPaletted
	case 8:
		ok = ct == ctGray || ct == ctTrueColor || ct == ctPaletted || ct == ctGrayAlpha || ct == ctTrueAlpha
	case 16:
		ok = ct == ctGray || ct == ctTrueColor || ct == ctGrayAlpha || ct == ctTrueAlpha
	}
	if !ok {
		return fmt.Errorf("%w: bit depth %d, color type %d", ErrUnsupported, depth, ct)
	}
	d.info = Info{Width: int(w), Height: int(h), Depth: depth, ColorType: ct, Interlaced: b[12] == 1}
	return d.verifyChecksum()
}

func (d *decoder) parsePLTE(length uint32) error {
	np := int(length / 3)
	if length%3 != 0 || np <= 0 || np > 256 || np > 1<<uint(d.info.Depth) {
		return formatErr("bad PLTE length")
	}
	b, err := d.readFull(3 * np)
	if err != nil {
		return err
	}
	d.crc = crc32.Update(d.crc, crc32.IEEETable, b)
	switch d.info.ColorType {
	case ctPaletted:
		for i := range np {
			d.plte[i] = [3]byte{b[3*i], b[3*i+1], b[3*i+2]}
		}
		d.np = np
	case ctTrueColor, ctTrueAlpha:
		// A suggested palette: ignored.
	default:
		return formatErr("PLTE, color type mismatch")
	}
	return d.verifyChecksum()
}

func (d *decoder) parsetRNS(length uint32) error {
	switch d.info.ColorType {
	case ctGray, ctTrueColor:
		want := uint32(2)
		if d.info.ColorType == ctTrueColor {
			want = 6
		}
		if length != want {
			return formatErr("bad tRNS length")
		}
		b, err := d.readFull(int(length))
		if err != nil {
			return err
		}
		d.crc = crc32.Update(d.crc, crc32.IEEETable, b)
		copy(d.transparent[:], b)
		if d.info.ColorType == ctGray {
			// image/png scales the low byte to 8 bits with uint8 arithmetic.
			switch d.info.Depth {
			case 1:
				d.transparent[1] *= 0xff
			case 2:
				d.transparent[1] *= 0x55
			case 4:
				d.transparent[1] *= 0x11
			}
		}
		d.useTransparent = true
	case ctPaletted:
		if length > 256 {
			return formatErr("bad tRNS length")
		}
		b, err := d.readFull(int(length))
		if err != nil {
			return err
		}
		d.crc = crc32.Update(d.crc, crc32.IEEETable, b)
		copy(d.alpha[:], b)
		d.ntrns = len(b)
	default:
		return formatErr("tRNS, color type mismatch")
	}
	return d.verifyChecksum()
}

// Read is image/png's IDAT reader: it spans consecutive IDAT chunks,
// verifying each one's CRC, and reads no further than the current chunk.
func (d *decoder) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for d.idatLength == 0 {
		if err := d.verifyChecksum(); err != nil {
			return 0, err
		}
		b, err := d.readFull(8)
		if err != nil {
			return 0, err
		}
		d.idatLength = binary.BigEndian.Uint32(b[:4])
		if string(b[4:8]) != "IDAT" {
			return 0, formatErr("not enough pixel data")
		}
		d.crc = crc32.Update(0, crc32.IEEETable, b[4:8])
	}
	if d.pos >= len(d.data) {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), int(d.idatLength))], d.data[d.pos:])
	d.crc = crc32.Update(d.crc, crc32.IEEETable, p[:n])
	d.pos += n
	d.idatLength -= uint32(n) // #nosec G115 -- n <= idatLength
	return n, nil
}

// parseChunks runs image/png's chunk loop; idat is called at the first IDAT
// chunk with d.idatLength set, and must consume the zlib stream. With
// configOnly, it returns at the first IDAT chunk instead.
func (d *decoder) parseChunks(configOnly bool, idat func() error) error {
	if err := d.checkHeader(); err != nil {
		return eof(err)
	}
	for d.stage != dsSeenIEND {
		if err := d.parseChunk(configOnly, idat); err != nil {
			return eof(err)
		}
		if configOnly && d.stage == dsSeenIDAT {
			return nil
		}
	}
	return nil
}

// eof maps an error to this package's: running out of data is a format
// error (as image/png's io.ErrUnexpectedEOF), a context's error stays as it
// is, anything else (zlib, flate) is a format error.
func eof(err error) error {
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return fmt.Errorf("%w: %w", ErrFormat, io.ErrUnexpectedEOF)
	case errors.Is(err, ErrFormat), errors.Is(err, ErrUnsupported), errors.Is(err, ErrTooLarge),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("%w: %w", ErrFormat, err)
}

func (d *decoder) parseChunk(configOnly bool, idat func() error) error {
	b, err := d.readFull(8)
	if err != nil {
		return err
	}
	length := binary.BigEndian.Uint32(b[:4])
	d.crc = crc32.Update(0, crc32.IEEETable, b[4:8])
	switch string(b[4:8]) {
	case "IHDR":
		if d.stage != dsStart {
			return formatErr("chunk out of order")
		}
		d.stage = dsSeenIHDR
		return d.parseIHDR(length)
	case "PLTE":
		if d.stage != dsSeenIHDR {
			return formatErr("chunk out of order")
		}
		d.stage = dsSeenPLTE
		return d.parsePLTE(length)
	case "tRNS":
		if d.paletted() {
			if d.stage != dsSeenPLTE {
				return formatErr("chunk out of order")
			}
		} else if d.trueColor() {
			if d.stage != dsSeenIHDR && d.stage != dsSeenPLTE {
				return formatErr("chunk out of order")
			}
		} else if d.stage != dsSeenIHDR {
			return formatErr("chunk out of order")
		}
		d.stage = dsSeentRNS
		return d.parsetRNS(length)
	case "IDAT":
		if d.stage < dsSeenIHDR || d.stage > dsSeenIDAT || (d.stage == dsSeenIHDR && d.paletted()) {
			return formatErr("chunk out of order")
		} else if d.stage == dsSeenIDAT {
			break // trailing IDAT chunks are skipped like unknown ones
		}
		d.stage = dsSeenIDAT
		if configOnly {
			return nil
		}
		d.idatLength = length
		if err := idat(); err != nil {
			return err
		}
		return d.verifyChecksum()
	case "IEND":
		if d.stage != dsSeenIDAT {
			return formatErr("chunk out of order")
		}
		d.stage = dsSeenIEND
		if length != 0 {
			return formatErr("bad IEND length")
		}
		return d.verifyChecksum()
	}
	if length > 0x7fffffff {
		return formatErr(fmt.Sprintf("bad chunk length: %d", length))
	}
	// Skip the chunk's data (CRC-checked, never interpreted).
	rest := len(d.data) - d.pos
	if int64(length) > int64(rest) {
		d.pos = len(d.data)
		if rest == 0 && length > 0 {
			return io.EOF
		}
		return io.ErrUnexpectedEOF
	}
	b = d.data[d.pos : d.pos+int(length)]
	d.pos += int(length)
	d.crc = crc32.Update(d.crc, crc32.IEEETable, b)
	return d.verifyChecksum()
}

// layout picks the streamed layout from the header and tRNS.
func (d *decoder) layout() Layout {
	switch d.info.ColorType {
	case ctGray:
		if d.useTransparent {
			return GrayAlpha
		}
		return Gray
	case ctGrayAlpha:
		return GrayAlpha
	case ctTrueColor:
		if d.useTransparent {
			return RGBA
		}
		return RGB
	case ctPaletted:
		for i := range d.ntrns {
			if d.alpha[i] != 0xff {
				return RGBA
			}
		}
		return RGB
	}
	return RGBA
}

// DecodeInfo parses the chunks before the first IDAT (CRC-checked, with
// image/png's order rules) and describes the image. It inflates nothing.
func DecodeInfo(data []byte) (Info, error) {
	d := &decoder{data: data}
	if err := d.parseChunks(true, nil); err != nil {
		return Info{}, err
	}
	d.info.Layout = d.layout()
	return d.info, nil
}

func (d *decoder) checkSize() error {
	if d.opts.MaxPixels > 0 && int64(d.info.Width)*int64(d.info.Height) > d.opts.MaxPixels {
		return fmt.Errorf("%w: %dx%d", ErrTooLarge, d.info.Width, d.info.Height)
	}
	return nil
}

func (d *decoder) checkCtx(y int) error {
	if d.opts.Ctx != nil && y%ctxRows == 0 {
		return d.opts.Ctx.Err()
	}
	return nil
}
