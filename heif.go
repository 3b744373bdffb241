package fastimagecache

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fastimagecache/fastimagecache/internal/isobmff"
)

// This file admits AVIF and HEIC inputs (HEIF containers) from their headers alone:
// the WebAssembly decoders behind internal/codec set no memory limit and cannot be
// cancelled, so everything they will allocate is bounded here, before they run.

// heifLimits bound the box walk of an AVIF or HEIC header: far above what cameras
// and encoders write (an iPhone HEIC has about 50 items and a 8×6 grid; a
// 16384×16384 grid of 512×512 tiles has 1024 tiles).
var heifLimits = isobmff.Limits{MaxDepth: 8, MaxBoxes: 1 << 14, MaxItems: 4096, MaxProperties: 4096, MaxTiles: 1024, MaxRefs: 1 << 14}

// heifBrands are the ftyp brands that name a format outright (ISO/IEC 23008-12 Annex
// B; the AV1 Image File Format).
var heifBrands = map[string]Format{
	"avif": AVIF, "avis": AVIF,
	"heic": HEIC, "heix": HEIC, "heim": HEIC, "heis": HEIC, "hevc": HEIC, "hevx": HEIC, "hevm": HEIC, "hevs": HEIC,
}

// sniffHEIF detects AVIF and HEIC from the ftyp box: the major brand first, then the
// compatible brands; a file that only says mif1 or msf1 (any HEIF) is AVIF or HEIC by
// its primary item's type (av01 or hvc1), read by the box walk.
func sniffHEIF(data []byte) (Format, bool) {
	if len(data) < 16 || string(data[4:8]) != "ftyp" {
		return "", false
	}
	size := int64(binary.BigEndian.Uint32(data))
	if size < 16 || size > int64(len(data)) {
		return "", false
	}
	if f, ok := heifBrands[string(data[8:12])]; ok {
		return f, true
	}
	generic := false
	for i := int64(16); i+4 <= size; i += 4 {
		b := string(data[i : i+4])
		if f, ok := heifBrands[b]; ok {
			return f, true
		}
		generic = generic || b == "mif1" || b == "msf1"
	}
	if !generic && string(data[8:12]) != "mif1" && string(data[8:12]) != "msf1" {
		return "", false
	}
	info, err := isobmff.Scan(data, heifLimits)
	if err != nil {
		return "", false
	}
	switch codedType(info) {
	case "av01":
		return AVIF, true
	case "hvc1":
		return HEIC, true
	}
	return "", false
}

// codedType is the coding of the primary image: its own type, or a grid's tiles'.
func codedType(info isobmff.Info) string {
	if info.PrimaryType == "grid" {
		return info.TileType
	}
	return info.PrimaryType
}

// inspectHEIF checks an AVIF or HEIC header: the box walk (sizes within parents and
// the file, bounded counts, every extent inside the file), the primary item coded as
// the format says, and every image the decoder will produce (the primary image, a
// grid's tiles, the alpha plane) within the frame limits.
//
// An AVIF image sequence (major brand avis) is refused with ErrUnsupportedFormat:
// libavif decodes the track of such a file, not its still item, and the header walk
// does not size tracks. A file with a sequence and a still primary item under the
// avif major brand is decoded as that still image, as libavif does. HEIC sequences
// are read the same way (libheif decodes only items).
//
// libavif returns the image as coded (the ispe size; its clean aperture ignored),
// and the render applies irot/imir as it applies a JPEG's EXIF orientation; libheif
// returns it cropped to its clean aperture and oriented, so a HEIC's header is that
// size with orientation 1.
func inspectHEIF(data []byte, f Format, lim Limits) (header, error) {
	info, err := isobmff.Scan(data, heifLimits)
	switch {
	case errors.Is(err, isobmff.ErrLimit):
		return header{}, fmt.Errorf("%w: %w", ErrDimensions, err)
	case errors.Is(err, isobmff.ErrUnsupported):
		return header{}, fmt.Errorf("%w: %w", ErrUnsupportedFormat, err)
	case err != nil:
		return header{}, corrupt(err)
	}
	if f == AVIF && info.MajorBrand == "avis" {
		return header{}, fmt.Errorf("an AVIF image sequence: %w", ErrUnsupportedFormat)
	}
	want := map[Format]string{AVIF: "av01", HEIC: "hvc1"}[f]
	if got := codedType(info); got != want {
		return header{}, fmt.Errorf("%s file whose primary image is coded as %q: %w", f, got, ErrUnsupportedFormat)
	}
	if err := lim.checkFrame(info.Width, info.Height); err != nil {
		return header{}, err
	}
	for _, t := range append(info.Tiles, info.AlphaTiles...) {
		if err := lim.checkFrame(t.Width, t.Height); err != nil {
			return header{}, err
		}
	}
	if info.Alpha {
		if err := lim.checkFrame(info.AlphaSize.Width, info.AlphaSize.Height); err != nil {
			return header{}, err
		}
	}
	pb := int64(4) // RGBA (AVIF at 8 bits); RGBA/NRGBA, YCbCr or Gray (HEIC)
	if f == AVIF && (info.BitDepth == 0 || info.BitDepth > 8) {
		pb = 8 // RGBA64: no pixi, or more than 8 bits
	}
	w, hgt, orientation := info.Width, info.Height, info.Orientation
	if f == HEIC {
		// libheif applies the clean aperture, irot and imir itself: the decoded image
		// is cropped and oriented already.
		w, hgt = orientedSize(info.Cropped.Width, info.Cropped.Height, orientation)
		orientation = 1
	}
	return header{
		width:       w,
		height:      hgt,
		orientation: orientation,
		alpha:       info.Alpha,
		decodeBytes: heifDecodeBytes(f, info, len(data), pb),
		pixelBytes:  pb,
	}, nil
}

// heifDecodeBytes is what codec.DecodeAVIF or codec.DecodeHEIC allocates for info
// and an input of n bytes, measured (TestReservationCoversAllocation; README
// "AVIF and HEIC input"): each call instantiates the decoder afresh, whose linear
// memory (a Go slice that wazero grows by appending, so every smaller copy counts
// too) holds a copy of the input, the coded planes of every tile, the output and
// the alpha plane, and the RGBA (AVIF) or YCbCr (HEIC) result, which the returned
// image aliases. Measured at 8 bits: AVIF 32-56 bytes per pixel at 4 Mpx and up
// to 84 at 0.3 Mpx (the growth steps), HEIC 24 at 8 bits and 60 at 12 bits; an
// RGBA64 result (AVIF over 8 bits) is converted into a fresh Go slice. The first
// call in a process also compiles the module (AVIF 123 MB, HEIC 46 MB measured): the
// caller's reservation adds it (Cache.setupBytes).
func heifDecodeBytes(f Format, info isobmff.Info, n int, pixelBytes int64) int64 {
	px := info.CodedPixels()
	out := int64(info.Width) * int64(info.Height)
	est := heifInstanceBytes + 8*int64(n)
	if f == AVIF {
		est += 48 * px
		if pixelBytes == 8 {
			est += 24 * out
		}
		return est
	}
	return est + 64*px
}

// heifInstanceBytes is a decoder instance's fixed cost (its initial linear memory,
// stack and tables). The first call's module compilation is setupBytes'.
const heifInstanceBytes = 16 << 20
