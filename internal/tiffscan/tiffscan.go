// Package tiffscan validates the structure of an untrusted classic TIFF file
// before any decoder allocates pixel memory for it.
//
// # Decoder weakness guarded against
//
// golang.org/x/image/tiff sizes its work from the header. After checking
// only that Width*Height*8 fits in an int, it allocates the whole
// destination image and then loops over every strip or tile, running a
// decompressor per block that may each produce up to tile-area*8 bytes.
// Older versions could be driven into unbounded CPU and memory use by huge
// tile counts or by zero-height tiled images with huge widths
// (CVE-2023-29407, CVE-2023-29408); current versions still discover that a
// block's offset or byte count lies outside the file only after the image has
// been allocated, and never look past the first IFD, although other TIFF
// readers follow the next-IFD chain (a circular chain hangs naive readers).
//
// [Scan] works over the whole file in memory. It walks the IFD chain with
// loop detection and a count limit, fully parses the first IFD, computes the
// number of strips or tiles the first image needs with overflow-safe
// arithmetic, rejects the file if that exceeds the caller's limit, and then
// checks, entry by entry and without allocating arrays sized by any count
// read from the file, that each block's offset and byte count lie inside the
// file. Only the compressions x/image/tiff decodes without external help are
// accepted, CCITT Group 3 and 4 among them (compression 3 and 4, which
// x/image/ccitt decodes) for bilevel images, except where the file declares a
// variant x/image/ccitt cannot decode (Group 3 two-dimensional coding or fill
// bits). Scan never allocates memory proportional to a size field read
// from the input (its only allocation, the visited-IFD set, is bounded by
// [Limits].MaxIFDs) and never panics.
//
// BigTIFF (version 43) is not supported; SubIFDs and EXIF/GPS sub-directories
// are not walked (x/image/tiff ignores them).
package tiffscan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Sentinel errors returned (wrapped with context) by [Scan]. Use [errors.Is]
// to test for them. Error strings never contain bytes copied from the input.
var (
	// ErrMalformed reports a structurally invalid TIFF: a bad header, an
	// IFD or value outside the file, a missing or ill-typed required tag,
	// zero or oversized dimensions, too few strip/tile offsets or byte
	// counts, or a strip/tile extending past the end of the file.
	ErrMalformed = errors.New("malformed TIFF")

	// ErrEmpty reports an image whose width or height is zero (the
	// CVE-2023-29407 shape: zero height, huge width). Errors wrapping it
	// also wrap ErrMalformed.
	ErrEmpty = errors.New("zero-sized TIFF")

	// ErrTooManyBlocks reports that the first image needs more strips or
	// tiles than [Limits].MaxBlocks.
	ErrTooManyBlocks = errors.New("too many TIFF strips or tiles")

	// ErrIFDLoop reports that the next-IFD chain revisits an IFD offset.
	ErrIFDLoop = errors.New("TIFF IFD chain loops")

	// ErrTooManyIFDs reports that the IFD chain is longer than
	// [Limits].MaxIFDs.
	ErrTooManyIFDs = errors.New("too many TIFF IFDs")

	// ErrUnsupported reports a well-formed feature this package (and the
	// decoder behind it) does not handle: BigTIFF or an unsupported
	// compression scheme.
	ErrUnsupported = errors.New("unsupported TIFF feature")
)

// Limits bounds the work [Scan] accepts. Every field must be positive for
// any file to pass: the zero Limits rejects everything (fail closed).
type Limits struct {
	// MaxBlocks is the largest number of strips or tiles (times planes for
	// PlanarConfiguration 2) the first image may need.
	MaxBlocks int
	// MaxIFDs is the largest number of IFDs the next-IFD chain may hold.
	MaxIFDs int
	// MaxEntries is the largest entry count accepted in any IFD.
	MaxEntries int
}

// Info describes the first image of a TIFF file as seen by [Scan].
type Info struct {
	// Width and Height are ImageWidth and ImageLength; on success both
	// are positive and Width*Height*8 fits in an int (the same
	// "fits in memory" bound x/image/tiff applies).
	Width, Height int
	// BitsPerPixel is the sum of BitsPerSample over all samples.
	BitsPerPixel int
	// Samples is SamplesPerPixel (default 1).
	Samples int
	// Compression is the Compression tag value; 1 if the tag is absent
	// (x/image/tiff treats a missing tag as no compression).
	Compression int
	// Photometric is the PhotometricInterpretation tag value, or -1 if the
	// tag is absent.
	Photometric int
	// Tiled reports whether the image is stored as tiles (TileWidth and
	// TileLength present) rather than strips.
	Tiled bool
	// Blocks is the number of strips or tiles the first image needs,
	// multiplied by Samples when PlanarConfiguration is 2.
	Blocks int
	// BlockWidth and BlockHeight are the size of one strip (image width ×
	// RowsPerStrip) or tile. A decoder inflates each block into a buffer
	// of up to BlockWidth*BlockHeight*8 bytes; a CCITT block decodes to one
	// bit a pixel, rows padded to a byte.
	BlockWidth, BlockHeight int
	// IFDs is the number of IFDs in the chain that were walked.
	IFDs int
}

// Tags read from IFD0.
const (
	tagImageWidth          = 256
	tagImageLength         = 257
	tagBitsPerSample       = 258
	tagCompression         = 259
	tagPhotometric         = 262
	tagStripOffsets        = 273
	tagSamplesPerPixel     = 277
	tagRowsPerStrip        = 278
	tagStripByteCounts     = 279
	tagPlanarConfiguration = 284
	tagTileWidth           = 322
	tagTileLength          = 323
	tagTileOffsets         = 324
	tagTileByteCounts      = 325
	tagT4Options           = 292 // Group 3 coding options
)

// Field types.
const (
	typeShort = 3
	typeLong  = 4
)

// typeSize gives the byte size of each TIFF 6.0 field type (plus IFD, 13);
// 0 marks types whose size is unknown, which readers must ignore.
var typeSize = [...]uint64{
	0, // unused
	1, // BYTE
	1, // ASCII
	2, // SHORT
	4, // LONG
	8, // RATIONAL
	1, // SBYTE
	1, // UNDEFINED
	2, // SSHORT
	4, // SLONG
	8, // SRATIONAL
	4, // FLOAT
	8, // DOUBLE
	4, // IFD
}

// Compression values accepted: those x/image/tiff decodes natively.
const (
	compNone       = 1
	compCCITT3     = 3 // CCITT T.4 (Group 3 fax)
	compCCITT4     = 4 // CCITT T.6 (Group 4 fax)
	compLZW        = 5
	compDeflate    = 8
	compPackBits   = 32773
	compDeflateOld = 32946
)

const (
	headerLen = 8
	entryLen  = 12
	// maxBitsPerSample bounds each BitsPerSample value (64-bit floats are
	// the widest samples in common use).
	maxBitsPerSample = 64
	// maxBytesPerPixel mirrors x/image/tiff's conservative "image fits in
	// memory" check, Width*Height*8 <= MaxInt.
	maxBytesPerPixel = 8
)

// field is one IFD entry whose value extent has been checked to lie inside
// the file.
type field struct {
	present bool
	tag     uint16
	typ     uint16
	count   uint64
	off     uint64 // absolute offset of the first value element
}

// scanner holds the input and its byte order.
type scanner struct {
	data []byte
	bo   binary.ByteOrder
}

// Scan validates data, which must hold an entire classic TIFF file, against
// lim and returns a summary of its first image.
//
// Scan checks:
//   - the "II*\0" or "MM\0*" header (BigTIFF is [ErrUnsupported]);
//   - every IFD in the next-IFD chain: offset at least 8 and its 2-byte
//     entry count, 12*count entries and 4-byte next pointer inside the file;
//     count at most lim.MaxEntries ([ErrMalformed]); no offset visited twice
//     ([ErrIFDLoop]); at most lim.MaxIFDs IFDs ([ErrTooManyIFDs]);
//   - IFD0: tags in strictly ascending order (as x/image/tiff requires);
//     every entry of a known type has its value (inline or at an offset)
//     inside the file; the tags listed on [Info] have type SHORT or LONG and
//     sane counts; ImageWidth and ImageLength are positive and
//     Width*Height*8 fits in an int; BitsPerSample has exactly one value
//     per sample, each in 1..64; PlanarConfiguration is 1 or 2; Compression is
//     1, 3, 4, 5, 8, 32773 or 32946 ([ErrUnsupported] otherwise);
//   - CCITT (Compression 3 or 4): one sample of one bit ([ErrMalformed]
//     otherwise); T4Options, if present, declares neither two-dimensional
//     coding nor fill bits ([ErrUnsupported]);
//   - the layout is unambiguously tiled (TileWidth, TileLength, TileOffsets,
//     TileByteCounts, no StripOffsets/StripByteCounts) or stripped
//     (StripOffsets, StripByteCounts, no tile tags); tile sizes are non-zero
//     (multiples of 16 are not required);
//   - Blocks = ceil(W/TileWidth)*ceil(H/TileLength) or ceil(H/RowsPerStrip)
//     (RowsPerStrip 0, absent or above H meaning H), times Samples when
//     PlanarConfiguration is 2, is at most lim.MaxBlocks
//     ([ErrTooManyBlocks]);
//   - the offsets and byte-counts entries each hold at least Blocks values
//     and, for every block, offset+bytecount is inside the file.
//
// On success the returned Info is complete. On error Scan returns the Info
// fields established before the failure (for example Width, Height and
// Blocks with [ErrTooManyBlocks]), or the zero Info if the header was
// rejected; a partial Info is for diagnostics only and must not be used to
// size a decode.
func Scan(data []byte, lim Limits) (Info, error) {
	var info Info
	if len(data) < headerLen {
		return info, fmt.Errorf("tiffscan: truncated header (%d bytes): %w", len(data), ErrMalformed)
	}
	s := scanner{data: data}
	switch string(data[:4]) {
	case "II*\x00":
		s.bo = binary.LittleEndian
	case "MM\x00*":
		s.bo = binary.BigEndian
	case "II+\x00", "MM\x00+":
		return info, fmt.Errorf("tiffscan: BigTIFF: %w", ErrUnsupported)
	default:
		return info, fmt.Errorf("tiffscan: unrecognised header: %w", ErrMalformed)
	}

	off := uint64(s.bo.Uint32(data[4:8]))
	if off == 0 {
		return info, fmt.Errorf("tiffscan: no IFD: %w", ErrMalformed)
	}
	// The visited set is bounded by lim.MaxIFDs (checked before insertion)
	// and by len(data), since every visited offset lies inside the file.
	var visited map[uint64]struct{}
	for off != 0 {
		if _, seen := visited[off]; seen {
			return info, fmt.Errorf("tiffscan: IFD %d at offset %d revisits an earlier IFD: %w", info.IFDs, off, ErrIFDLoop)
		}
		if info.IFDs >= lim.MaxIFDs {
			return info, fmt.Errorf("tiffscan: more than %d IFDs: %w", lim.MaxIFDs, ErrTooManyIFDs)
		}
		if visited == nil {
			visited = make(map[uint64]struct{}, min(lim.MaxIFDs, 16))
		}
		visited[off] = struct{}{}

		n, next, err := s.ifd(off, lim.MaxEntries)
		if err != nil {
			return info, fmt.Errorf("tiffscan: IFD %d: %w", info.IFDs, err)
		}
		if info.IFDs == 0 {
			if err := s.firstImage(&info, off+2, n, lim); err != nil {
				return info, fmt.Errorf("tiffscan: IFD 0: %w", err)
			}
		}
		info.IFDs++
		off = next
	}
	return info, nil
}

// ifd validates the IFD at off and returns its entry count and the offset
// of the next IFD (0 for none).
func (s *scanner) ifd(off uint64, maxEntries int) (n int, next uint64, err error) {
	size := uint64(len(s.data))
	if off < headerLen || off > size || size-off < 2 {
		return 0, 0, fmt.Errorf("offset %d outside file of %d bytes: %w", off, size, ErrMalformed)
	}
	n = int(s.bo.Uint16(s.data[off:]))
	if n > maxEntries {
		return 0, 0, fmt.Errorf("%d entries exceed limit %d: %w", n, maxEntries, ErrMalformed)
	}
	// n <= 65535, so this cannot overflow.
	need := 2 + uint64(n)*entryLen + 4 // #nosec G115 -- 0 <= n <= 65535: a uint16 read from the file
	if size-off < need {
		return 0, 0, fmt.Errorf("%d entries at offset %d run past end of file: %w", n, off, ErrMalformed)
	}
	next = uint64(s.bo.Uint32(s.data[off+need-4:]))
	return n, next, nil
}

// entry decodes the IFD entry at off (known to be inside the file) and
// checks that its value extent lies inside the file. Entries of unknown
// type are returned with present set but are not extent-checked.
func (s *scanner) entry(off uint64) (field, error) {
	e := s.data[off : off+entryLen]
	f := field{
		present: true,
		tag:     s.bo.Uint16(e[0:2]),
		typ:     s.bo.Uint16(e[2:4]),
		count:   uint64(s.bo.Uint32(e[4:8])),
	}
	if int(f.typ) >= len(typeSize) || typeSize[f.typ] == 0 {
		return f, nil // unknown type: readers must ignore it
	}
	total := f.count * typeSize[f.typ] // < 2^35, no overflow
	if total <= 4 {
		f.off = off + 8
		return f, nil
	}
	f.off = uint64(s.bo.Uint32(e[8:12]))
	if f.off > uint64(len(s.data)) || uint64(len(s.data))-f.off < total {
		return f, fmt.Errorf("tag %d: %d-byte value at offset %d outside file: %w", f.tag, total, f.off, ErrMalformed)
	}
	return f, nil
}

// firstImage parses the n entries of IFD0 starting at entries and fills in
// info, checking the first image's geometry and block table.
func (s *scanner) firstImage(info *Info, entries uint64, n int, lim Limits) error {
	var (
		width, height, bps, compression, photometric, samples, rps, planar,
		stripOffsets, stripCounts, tileWidth, tileLength, tileOffsets, tileCounts,
		t4Options field
	)
	prevTag := -1
	for i := 0; i < n; i++ {
		f, err := s.entry(entries + uint64(i)*entryLen)
		if err != nil {
			return err
		}
		if int(f.tag) <= prevTag {
			return fmt.Errorf("tags not in ascending order at entry %d: %w", i, ErrMalformed)
		}
		prevTag = int(f.tag)
		var dst *field
		switch f.tag {
		case tagImageWidth:
			dst = &width
		case tagImageLength:
			dst = &height
		case tagBitsPerSample:
			dst = &bps
		case tagCompression:
			dst = &compression
		case tagPhotometric:
			dst = &photometric
		case tagStripOffsets:
			dst = &stripOffsets
		case tagSamplesPerPixel:
			dst = &samples
		case tagRowsPerStrip:
			dst = &rps
		case tagStripByteCounts:
			dst = &stripCounts
		case tagPlanarConfiguration:
			dst = &planar
		case tagTileWidth:
			dst = &tileWidth
		case tagTileLength:
			dst = &tileLength
		case tagTileOffsets:
			dst = &tileOffsets
		case tagTileByteCounts:
			dst = &tileCounts
		case tagT4Options:
			dst = &t4Options
		default:
			continue
		}
		if f.typ != typeShort && f.typ != typeLong {
			return fmt.Errorf("tag %d has type %d, want SHORT or LONG: %w", f.tag, f.typ, ErrMalformed)
		}
		*dst = f
	}

	// Dimensions.
	w, err := s.scalar(width, "ImageWidth", 0)
	if err != nil {
		return err
	}
	h, err := s.scalar(height, "ImageLength", 0)
	if err != nil {
		return err
	}
	if w == 0 || h == 0 {
		return fmt.Errorf("zero-sized image %dx%d: %w: %w", w, h, ErrEmpty, ErrMalformed)
	}
	if px, ok := mul(w, h); !ok || w > math.MaxInt || h > math.MaxInt || px > math.MaxInt/maxBytesPerPixel {
		return fmt.Errorf("image %dx%d too large: %w", w, h, ErrMalformed)
	}
	info.Width, info.Height = int(w), int(h)

	// Samples and bits.
	spp, err := s.scalar(samples, "SamplesPerPixel", 1)
	if err != nil {
		return err
	}
	if spp == 0 {
		return fmt.Errorf("SamplesPerPixel is 0: %w", ErrMalformed)
	}
	if spp > math.MaxUint16 {
		return fmt.Errorf("SamplesPerPixel %d too large: %w", spp, ErrMalformed)
	}
	info.Samples = int(spp)
	bpp, err := s.bitsPerPixel(bps, spp)
	if err != nil {
		return err
	}
	info.BitsPerPixel = bpp

	// Compression and photometric interpretation.
	comp, err := s.scalar(compression, "Compression", compNone)
	if err != nil {
		return err
	}
	info.Compression = int(comp) // #nosec G115 -- comp is a SHORT or LONG value (< 2^32), reported as read; the switch below rejects unknown ones
	switch comp {
	case compNone, compLZW, compDeflate, compPackBits, compDeflateOld:
	case compCCITT3, compCCITT4:
		if err := s.checkCCITT(comp, info.Samples, info.BitsPerPixel, t4Options); err != nil {
			return err
		}
	default:
		return fmt.Errorf("compression %d: %w", comp, ErrUnsupported)
	}
	info.Photometric = -1
	if photometric.present {
		p, err := s.scalar(photometric, "PhotometricInterpretation", 0)
		if err != nil {
			return err
		}
		info.Photometric = int(p) // #nosec G115 -- p is a SHORT or LONG value (< 2^32), reported as read
	}

	pc, err := s.scalar(planar, "PlanarConfiguration", 1)
	if err != nil {
		return err
	}
	if pc != 1 && pc != 2 {
		return fmt.Errorf("PlanarConfiguration %d: %w", pc, ErrMalformed)
	}

	// Layout and block count.
	var offsets, counts field
	var across, down uint64
	info.Tiled = tileWidth.present || tileLength.present
	if info.Tiled {
		if stripOffsets.present || stripCounts.present {
			return fmt.Errorf("both tile and strip tags present: %w", ErrMalformed)
		}
		tw, err := s.scalar(tileWidth, "TileWidth", 0)
		if err != nil {
			return err
		}
		th, err := s.scalar(tileLength, "TileLength", 0)
		if err != nil {
			return err
		}
		if tw == 0 || th == 0 {
			return fmt.Errorf("zero tile size %dx%d: %w", tw, th, ErrMalformed)
		}
		across, down = ceilDiv(w, tw), ceilDiv(h, th)
		offsets, counts = tileOffsets, tileCounts
		info.BlockWidth, info.BlockHeight = int(min(tw, math.MaxInt32)), int(min(th, math.MaxInt32))
	} else {
		if tileOffsets.present || tileCounts.present {
			return fmt.Errorf("tile offsets without tile size: %w", ErrMalformed)
		}
		r, err := s.scalar(rps, "RowsPerStrip", 0)
		if err != nil {
			return err
		}
		if r == 0 || r > h {
			r = h
		}
		across, down = 1, ceilDiv(h, r)
		offsets, counts = stripOffsets, stripCounts
		info.BlockWidth, info.BlockHeight = int(w), int(r)
	}
	planes := uint64(1)
	if pc == 2 {
		planes = spp
	}
	blocks, ok := mul(across, down)
	if ok {
		blocks, ok = mul(blocks, planes)
	}
	if !ok || blocks > uint64(max(lim.MaxBlocks, 0)) {
		if ok {
			info.Blocks = int(min(blocks, math.MaxInt))
		} else {
			info.Blocks = math.MaxInt
		}
		return fmt.Errorf("%d x %d blocks x %d planes exceed limit %d: %w", across, down, planes, lim.MaxBlocks, ErrTooManyBlocks)
	}
	info.Blocks = int(blocks) // #nosec G115 -- blocks <= lim.MaxBlocks, an int: checked above

	return s.checkBlocks(offsets, counts, blocks, info.Tiled)
}

// checkBlocks verifies that the offsets and byte-counts entries each hold at
// least n values and that every block lies inside the file. Values are read
// in place; nothing is allocated.
func (s *scanner) checkBlocks(offsets, counts field, n uint64, tiled bool) error {
	oName, cName := "StripOffsets", "StripByteCounts"
	if tiled {
		oName, cName = "TileOffsets", "TileByteCounts"
	}
	if !offsets.present || !counts.present {
		return fmt.Errorf("missing %s or %s: %w", oName, cName, ErrMalformed)
	}
	if offsets.count < n || counts.count < n {
		return fmt.Errorf("%s has %d and %s %d values, need %d: %w", oName, offsets.count, cName, counts.count, n, ErrMalformed)
	}
	size := uint64(len(s.data))
	for i := uint64(0); i < n; i++ {
		o, c := s.value(offsets, i), s.value(counts, i)
		if o > size || size-o < c {
			return fmt.Errorf("block %d (%d bytes at offset %d) outside file of %d bytes: %w", i, c, o, size, ErrMalformed)
		}
	}
	return nil
}

// bitsPerPixel sums BitsPerSample over spp samples. There must be exactly
// one value per sample (x/image/tiff rejects other counts for RGB images);
// absent means 1 bit per sample.
func (s *scanner) bitsPerPixel(f field, spp uint64) (int, error) {
	if !f.present {
		return int(spp), nil // #nosec G115 -- spp <= math.MaxUint16: the caller checks it
	}
	if f.count != spp {
		return 0, fmt.Errorf("BitsPerSample has %d values for %d samples: %w", f.count, spp, ErrMalformed)
	}
	total := 0
	for i := uint64(0); i < spp; i++ { // spp <= 65535
		b := s.value(f, i)
		if b == 0 || b > maxBitsPerSample {
			return 0, fmt.Errorf("BitsPerSample[%d] = %d out of range 1..%d: %w", i, b, maxBitsPerSample, ErrMalformed)
		}
		total += int(b)
	}
	return total, nil
}

// scalar returns the single value of a SHORT/LONG field, or def if the
// field is absent.
func (s *scanner) scalar(f field, name string, def uint64) (uint64, error) {
	if !f.present {
		return def, nil
	}
	if f.count != 1 {
		return 0, fmt.Errorf("%s has %d values, want 1: %w", name, f.count, ErrMalformed)
	}
	return s.value(f, 0), nil
}

// value reads element i of a SHORT or LONG field whose extent was checked
// by entry; i must be below f.count.
func (s *scanner) value(f field, i uint64) uint64 {
	if f.typ == typeShort {
		return uint64(s.bo.Uint16(s.data[f.off+2*i:]))
	}
	return uint64(s.bo.Uint32(s.data[f.off+4*i:]))
}

// mul returns a*b and whether it did not overflow.
func mul(a, b uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	return lo, hi == 0
}

// ceilDiv returns ceil(a/b) for b > 0 without overflow.
func ceilDiv(a, b uint64) uint64 {
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}
