// Package jpegdec is a JPEG decoder that can decode at a reduced scale
// ("shrink on load", as libjpeg's scale_denom and libvips do): at 1/2, 1/4 or
// 1/8 each 8×8 block of DCT coefficients goes through a reduced inverse DCT
// straight to 4×4, 2×2 or 1×1 pixels, so a thumbnail of a large photo never
// needs the full-size image in memory, and most of the IDCT work is skipped.
//
// # Origin and licence
//
// This package is a fork of the decoder half of Go 1.26's image/jpeg
// (reader.go, scan.go, huffman.go and the inverse DCT of dct.go), copyright
// The Go Authors, distributed under the BSD licence in the LICENSE file of
// this directory. The files that come from image/jpeg keep its copyright
// notice; idct_reduced.go and jpegdec.go are new. What was changed:
//
//   - Decode takes [Options]; the package does not register itself with
//     image.RegisterFormat, and has no encoder.
//   - The image planes (and so the returned image) are allocated at the
//     scaled size, and each block is reconstructed by an 8×8, 4×4, 2×2 or
//     1×1 inverse DCT. The reduced ones (idct_reduced.go) are new code after
//     the math of libjpeg's jidctred.c: each output pixel is the mean of the
//     s×s pixels of the full inverse DCT it stands for, computed in closed
//     form from the coefficients that mean depends on.
//   - A progressive decode keeps, between scans, only the coefficients the
//     inverse DCT of its scale needs, as int16s (image/jpeg: int32s), and the
//     set of the non-zero ones, which decides which bits a refinement scan
//     has: 136 bytes per block at scale 1 (image/jpeg: 256, and its planes),
//     106 at 1/2, 58 at 1/4, 10 at 1/8. With SkipAC at scale 1/8, its AC
//     scans are skipped without entropy decoding, and it keeps only the DC
//     coefficient (2 bytes per block). At scale 1, after the last scan, the
//     inverse DCT writes each component's plane into the front of that
//     component's coefficient store (coefs.go), so the planes cost nothing
//     more.
//   - The entropy decoder was rewritten for speed (huffman.go): a 64-bit bit
//     buffer refilled up to 8 bytes at a time, a 9-bit look-up table, and a
//     second one that decodes a short AC code and its coefficient together;
//     at 1/8, a third one skips a short AC code and its extra bits in one
//     step (scan_seq.go); the hot loops keep the bit buffer in local
//     variables (scan.go: decodeAC, refineNonZeroes). Sequential scans have their own block loop
//     (sequentialScan), which dequantizes while decoding. Progressive scans
//     update the stored blocks in place, and refinement scans visit only the
//     non-zero coefficients, found in the sets of them.
//   - The full-size inverse DCT skips the arithmetic for rows without AC
//     coefficients and stores straight to the image (idct_store.go).
//   - applyBlack calls image/draw instead of image/internal/imageutil, which
//     is not importable (draw.Draw reaches the same code).
//   - DecodeHeader, AllocBytes and DecodeBytes (which decodes from the
//     input slice, with no copy) are new.
//
// Scale 1 gives image/jpeg's results for every input but one kind: the same
// pixels, and an error exactly when image/jpeg returns one (the tests, and
// FuzzDecode, check this against image/jpeg itself). The one deliberate
// deviation, [ErrCoefficientRange], comes from keeping coefficients as
// int16s: a progressive file fails with it, where image/jpeg decodes it, when
// a quantized coefficient it sends leaves int16's range (accumulated DC
// differences, a large Al shift), or when its AC scans break the order of
// successive approximation (a band's first scan sent again, unless at Al 0
// after one at Al 0; a refinement that does not continue where the last scan
// of its positions stopped), through which
// refinements could take one out. No valid 8-bit JPEG does either: its
// coefficients fit in 12 bits, and encoders send each bit once, in order.
// Both checks fail alike at every scale (but 1/8 with SkipAC, which reads no
// AC scan), so a decode at 1/8 proves a file for every other scale.
//
// Every check of image/jpeg is kept: frame and scan header validation,
// Huffman and quantization table validation, component counts and sampling
// factors, progressive parameters, restart markers. As in image/jpeg, the
// only allocations that depend on the input are the image planes and the
// progressive coefficient buffers, sized from the frame header's width,
// height and sampling factors, and made at the first SOS: a caller that
// checked the size from [DecodeConfig] or [DecodeHeader] (and
// [AllocBytes]) has bounded them.
package jpegdec

import (
	"context"
	"errors"
	"image"
	"io"
	"math"
)

// Options control a decode.
type Options struct {
	// Scale is 1, 2, 4 or 8: the image is decoded at ceil(w/Scale) ×
	// ceil(h/Scale) by a reduced inverse DCT (8×8 → 4×4, 2×2, 1×1 per block;
	// 1/8 is the DC coefficient alone). 0 means 1.
	Scale int
	// SkipAC, only meaningful with Scale 8, lets a progressive image skip
	// its AC scans' entropy decoding entirely (only DC coefficients matter
	// at 1/8). Baseline scans still have to be Huffman-decoded to find block
	// boundaries. A corrupt AC scan then goes unnoticed: leave SkipAC off
	// when the whole file must be proven to decode.
	SkipAC bool
	// Workers is how many goroutines the decode may use. Above 1, the
	// sequential (baseline) scans of a frame of at least 1024 blocks, at
	// scale 1, run their inverse DCTs on one more goroutine while
	// the caller's entropy-decodes: two in all, whatever more it allows,
	// and a ring of 544 KiB (see AllocBytes). 0 and 1 mean the caller's
	// goroutine alone. The image, and the error, are the same.
	Workers int
}

// errBadScale is returned for an Options.Scale other than 0, 1, 2, 4 or 8.
var errBadScale = errors.New("jpegdec: Options.Scale must be 1, 2, 4 or 8")

// shift returns log2 of o.Scale.
func (o Options) shift() (uint, error) {
	switch o.Scale {
	case 0, 1:
		return 0, nil
	case 2:
		return 1, nil
	case 4:
		return 2, nil
	case 8:
		return 3, nil
	}
	return 0, errBadScale
}

// Decode reads a JPEG image from r and returns it at the scale opt asks for.
// The image is an *image.Gray (one component), an *image.YCbCr (three
// components, with the file's chroma subsampling ratio), an *image.RGBA (RGB
// files) or an *image.CMYK (four components), as image/jpeg returns; its
// bounds are (0, 0)–(ceil(w/Scale), ceil(h/Scale)). Errors are FormatError
// (invalid input), UnsupportedError, or the reader's, as image/jpeg's are
// (a truncated file is io.ErrUnexpectedEOF or a FormatError).
func Decode(r io.Reader, opt Options) (image.Image, error) {
	shift, err := opt.shift()
	if err != nil {
		return nil, err
	}
	d := new(decoder)
	d.shift = shift
	d.skipAC = shift == 3 && opt.SkipAC
	d.workers = opt.Workers
	return d.decode(r, false, false)
}

// DecodeBytes decodes the JPEG image in data, as Decode would from a
// reader of it, but from the slice itself: no copying, and the entropy
// decoder's fast paths run across the whole input. ctx, if it can be done,
// is checked after each 16 KiB of input read, as a reader that fails once
// it is done would be (the decode then fails with its error); nil means
// none. data is only read, and not kept.
func DecodeBytes(ctx context.Context, data []byte, opt Options) (image.Image, error) {
	return decodeBytesWindow(ctx, data, opt, bytesWindow)
}

// decodeBytesWindow is DecodeBytes with the context checked every window
// bytes (the tests make it small, to move the end of the visible input
// across every offset of the entropy-coded data).
func decodeBytesWindow(ctx context.Context, data []byte, opt Options, window int) (image.Image, error) {
	shift, err := opt.shift()
	if err != nil {
		return nil, err
	}
	d := new(decoder)
	d.shift = shift
	d.skipAC = shift == 3 && opt.SkipAC
	d.workers = opt.Workers
	d.bytes.buf = data
	d.bytes.j = len(data)
	if ctx != nil && ctx.Done() != nil {
		d.ctx, d.window = ctx, max(window, 1)
		d.bytes.j = 0
	}
	return d.decode(nil, false, false)
}

// DecodeConfig returns the color model and dimensions of a JPEG image
// without decoding the entire image, exactly as image/jpeg.DecodeConfig does.
// The dimensions are those of a Scale 1 decode.
func DecodeConfig(r io.Reader) (image.Config, error) {
	var d decoder
	if _, err := d.decode(r, true, false); err != nil {
		return image.Config{}, err
	}
	return d.config()
}

// Component is one frame component.
type Component struct {
	ID   int // component identifier C_i
	H, V int // sampling factors, 1..4
}

// Header is what [AllocBytes] needs to know about a JPEG: the frame header,
// and the Adobe APP14 transform. It can be filled in by [DecodeHeader] or
// from the caller's own header scan.
type Header struct {
	Width, Height int
	Progressive   bool        // SOF2
	Components    []Component // 1, 3 or 4 entries, in frame order
	// AdobeTransform is the transform byte of the (last) Adobe APP14
	// segment, or -1 when there is none.
	AdobeTransform int
}

// DecodeHeader reads a JPEG's markers up to its first SOS and returns its
// frame header. The checks image/jpeg makes on the segments before the first
// scan are made; the entropy-coded data is not read. An Adobe APP14 segment
// after the first scan, which would change AdobeTransform, is not seen.
func DecodeHeader(r io.Reader) (Header, error) {
	var d decoder
	if _, err := d.decode(r, true, true); err != nil {
		return Header{}, err
	}
	if d.nComp == 0 {
		return Header{}, FormatError("missing SOF marker")
	}
	h := Header{
		Width:          d.width,
		Height:         d.height,
		Progressive:    d.progressive,
		Components:     make([]Component, d.nComp),
		AdobeTransform: -1,
	}
	if d.adobeTransformValid {
		h.AdobeTransform = int(d.adobeTransform)
	}
	for i := range h.Components {
		h.Components[i] = Component{ID: int(d.comp[i].c), H: d.comp[i].h, V: d.comp[i].v}
	}
	return h, nil
}

// progBlockBytes returns what a progressive decode keeps per block between
// scans: the coefficients the inverse DCT needs (64, 49, 25 or 1 int16s at
// scale 1, 1/2, 1/4, 1/8: see layouts and coefs) and the set of the non-zero
// ones (a uint64), or with SkipAC at 1/8 the DC coefficient alone.
func progBlockBytes(shift uint, skipAC bool) int64 {
	if shift == 3 && skipAC {
		return 2
	}
	return 2*int64(layouts[shift].n) + 8
}

// AllocBytes estimates the bytes Decode allocates for an image with header h
// decoded with opt: the image planes at the scaled size, padded to whole
// MCUs (bs×bs bytes per 8×8 block of every component, bs = 8/Scale); for a
// progressive image what is kept between scans (136, 106, 58 or 10 bytes
// per block at scale 1, 1/2, 1/4, 1/8: the coefficients the reduced inverse
// DCT needs and the set of the non-zero ones; 2 with Scale 8 and SkipAC,
// which keeps only DC), where at scale 1 the planes are written into the
// coefficients' memory, and so not counted again, but a band of one block row
// (64 bytes per block of the widest component) is; and, when the
// decoder converts the planes to an *image.RGBA or *image.CMYK (four
// components, or three with AdobeTransform 0 or component IDs 'R', 'G',
// 'B'), 4 bytes per output pixel; with Workers above 1, for a sequential
// image of at least 1024 blocks at scale 1, the pipeline's ring
// (557056 bytes). The count is exact for the large
// allocations; it leaves out the decoder's fixed-size state (about 43 KB,
// independent of the input) and the runtime's rounding up of each of the at
// most 11 large allocations to a whole number of pages.
//
// As Decode does, a single-component image is counted 1×1 sampled whatever
// its nominal factors. The result is 0 for a header with no components or an
// empty size, saturates at math.MaxInt64, and is meaningful for any Header
// (sampling factors out of 1..4 are clamped), not only one DecodeHeader
// returned. An invalid opt.Scale counts as 1.
func AllocBytes(h Header, opt Options) int64 {
	if h.Width <= 0 || h.Height <= 0 || len(h.Components) == 0 {
		return 0
	}
	shift, err := opt.shift()
	if err != nil {
		shift = 0
	}
	bs := int64(8 >> shift)
	gray := len(h.Components) == 1
	sampling := func(c Component) (int64, int64) {
		if gray {
			return 1, 1
		}
		return int64(min(max(c.H, 1), 4)), int64(min(max(c.V, 1), 4))
	}
	var maxH, maxV int64 = 1, 1
	for _, c := range h.Components {
		ch, cv := sampling(c)
		maxH, maxV = max(maxH, ch), max(maxV, cv)
	}
	// Decode sizes MCUs by the first component's factors, which image/jpeg's
	// SOF checks make the largest; the maximum is the safe side for a Header
	// from elsewhere.
	w, ht := int64(h.Width), int64(h.Height)
	mxx := ceilDiv(w, 8*maxH)
	myy := ceilDiv(ht, 8*maxV)

	perBlock := progBlockBytes(shift, opt.SkipAC)
	inPlace := h.Progressive && shift == 0 // see reconstructInPlace
	var total, frameBlocks int64
	if inPlace {
		total = mulSat(mulSat(mxx, maxH), 64) // the band
	}
	for _, c := range h.Components {
		ch, cv := sampling(c)
		blocks := mulSat(mulSat(mxx, ch), mulSat(myy, cv))
		frameBlocks = addSat(frameBlocks, blocks)
		if !inPlace {
			total = addSat(total, mulSat(blocks, bs*bs))
		}
		if h.Progressive {
			total = addSat(total, mulSat(blocks, perBlock))
		}
	}
	if opt.Workers > 1 && !h.Progressive && shift < pipeMaxShift && frameBlocks >= pipeMinBlocks {
		total = addSat(total, pipeRingBytes)
	}
	if converts(h) {
		sw := ceilDiv(w, int64(1)<<shift)
		sh := ceilDiv(ht, int64(1)<<shift)
		total = addSat(total, mulSat(mulSat(sw, sh), 4))
	}
	return total
}

// converts reports whether Decode copies the planes of an image with header
// h into a 4-byte-per-pixel image. A JFIF APP0 stops the 'R', 'G', 'B'
// detection, but Header does not record it: over-counting is the safe side.
func converts(h Header) bool {
	switch len(h.Components) {
	case 4:
		return true
	case 3:
		c := h.Components
		return h.AdobeTransform == 0 || c[0].ID == 'R' && c[1].ID == 'G' && c[2].ID == 'B'
	}
	return false
}

// ceilDiv returns ceil(a/b) for a ≥ 1, b ≥ 1.
func ceilDiv(a, b int64) int64 { return (a-1)/b + 1 }

// mulSat returns a*b for non-negative a and b, saturating at math.MaxInt64.
func mulSat(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// addSat returns a+b for non-negative a and b, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// halfNum/halfDen is how many times the target a decode at 1/2 must leave to be
// chosen (4/3; 1/4 and 1/8 still need twice it). The reduced inverse DCT is a
// 2×2 box: where the filter after it has little left to do (1/2 leaving 1 to
// 1.3 times the target, as 2560 -> 1280), the box shows against a Lanczos
// reference from full size, up to 1.9 dB on the bench photos (0.18 dB on
// their mean); leaving 1.4 to 2 times the target, as 3840 -> 1280, it costs
// 0.00 dB there, for a quarter of the inverse DCT and colour work.
const halfNum, halfDen = 4, 3

// KeepLimit is the most a progressive decode chosen by ScaleFor keeps between
// scans when a cheaper scale would still cover the target.
const KeepLimit = 8 << 20

// ScaleFor returns the options for the cheapest decode of an image with header h
// that serves a w×h target well (shrink on load): the smallest scale (1/8, 1/4)
// that leaves at least twice the target on both axes, so that the filter
// that follows has real pixels to work from, else 1/2 if it leaves 4/3 of the
// target (halfNum), else full size. A progressive image
// keeps the coefficients of every block until its last scan (at 1/4, 14.5
// times its decoded planes; at full scale, where the planes are written into
// that store, 72 bytes a block beyond them); while what it keeps beyond the
// planes would pass KeepLimit and half the scale
// still covers the target, the scale is halved, down to 1/8 from the DC
// coefficients alone (2 bytes a block), and the filter works from one to two
// times the target. At 1/8, SkipAC is set: only DC coefficients matter there.
func ScaleFor(h Header, w, ht int) Options {
	// fits: the decode at 1/scale leaves at least num/den times the target.
	fits := func(scale, num, den int) bool {
		return (h.Width+scale-1)/scale*den >= num*w && (h.Height+scale-1)/scale*den >= num*ht
	}
	o := Options{Scale: 1}
	for _, scale := range []int{8, 4, 2} {
		if fits(scale, 2, 1) || scale == 2 && fits(2, halfNum, halfDen) {
			o.Scale = scale
			break
		}
	}
	for h.Progressive && o.Scale < 8 && fits(2*o.Scale, 1, 1) && kept(h, o) > KeepLimit {
		o.Scale *= 2
	}
	o.SkipAC = o.Scale == 8
	return o
}

// kept is what a progressive decode of h with o keeps between scans: its
// allocation less that of the planes.
func kept(h Header, o Options) int64 {
	planes := h
	planes.Progressive = false
	return AllocBytes(h, o) - AllocBytes(planes, o)
}
