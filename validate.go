package fastimagecache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"mime"
	"strings"

	"github.com/gabriel-vasile/mimetype"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/fastimagecache/fastimagecache/internal/gifscan"
	"github.com/fastimagecache/fastimagecache/internal/jpegdec"
	"github.com/fastimagecache/fastimagecache/internal/jpegscan"
	"github.com/fastimagecache/fastimagecache/internal/tiffscan"
	"github.com/fastimagecache/fastimagecache/internal/webpscan"
)

// header is what validate.go learns from an input without decoding pixels.
type header struct {
	format      Format
	width       int
	height      int
	frames      int
	totalPixels int64 // sum of frame pixels
	// decodeBytes is what the decoder allocates, for every format but JPEG: read it
	// through decodeBytesFor, never directly.
	decodeBytes int64
	orientation int  // EXIF orientation (JPEG only), 1..8
	alpha       bool // the decoded image may have transparency
	// jpeg (JPEG only) is the frame header decodeBytesFor sizes a JPEG decode from.
	jpeg *jpegdec.Header
	// pixelBytes is the size of a pixel of the decoded image (not JPEG), which sizes an
	// encoding of it at full size; 0 for an image type that imaging and the encoders
	// read pixel by pixel through At (NYCbCrA, CMYK), boxing every colour.
	pixelBytes int64
	// pngInterlaced: an Adam7 PNG, which render does not stream (streamsPNG).
	pngInterlaced bool
}

// decodeOpts say how much of an image a decode needs.
type decodeOpts struct {
	allFrames bool // every frame of an animation, not just the first
	// jpegScale (1, 2, 4 or 8) decodes a JPEG at 1/jpegScale of its size by a reduced
	// inverse DCT; every scan is still entropy-decoded unless skipAC.
	jpegScale int
	skipAC    bool // at scale 8, skip a progressive JPEG's AC scans
}

// decodedSize is the size decodeImage returns for h under o.
func (h header) decodedSize(o decodeOpts) (int, int) {
	if h.format != JPEG || o.jpegScale <= 1 {
		return h.width, h.height
	}
	s := o.jpegScale
	return (h.width + s - 1) / s, (h.height + s - 1) / s
}

// decodeBytesFor is the memory decodeImage allocates for h under o, which every budget
// reservation is made from. A JPEG's depends on o (scale, SkipAC) and on whether the
// render slot grants a second goroutine (known only once the render starts), so it is
// jpegdec.AllocBytes with Workers 2, the estimate of the decoder decodeImage runs at
// most, and nothing else;
// the other decoders' do not, so it is h.decodeBytes.
func (h header) decodeBytesFor(o decodeOpts) int64 {
	if h.format == JPEG {
		// The render slot may grant the decode a second goroutine (decodeImage), whose
		// ring is counted whether or not it does.
		jo := jpegOptions(o)
		jo.Workers = 2
		return jpegdec.AllocBytes(*h.jpeg, jo)
	}
	return h.decodeBytes
}

// jpegOptions are the jpegdec options decodeImage decodes a JPEG with under o.
func jpegOptions(o decodeOpts) jpegdec.Options {
	return jpegdec.Options{Scale: max(o.jpegScale, 1), SkipAC: o.skipAC}
}

// sniff detects the format from magic bytes. Anything that is not one of the raster
// formats (HTML, PHP, SVG, ZIP, MP4, ...) is ErrUnsupportedFormat.
func sniff(data []byte) (Format, bool) {
	if f, ok := sniffHEIF(data); ok {
		return f, true
	}
	mt := mimetype.Detect(data)
	for m := mt; m != nil; m = m.Parent() {
		switch m.String() {
		case "image/jpeg":
			return JPEG, true
		case "image/png", "image/vnd.mozilla.apng":
			return PNG, true
		case "image/gif":
			return GIF, true
		case "image/webp":
			return WebP, true
		case "image/bmp":
			return BMP, true
		case "image/tiff":
			return TIFF, true
		}
	}
	return "", false
}

// declaredFormat maps a client's Content-Type to a format. claim is false for types that
// make no claim ("" and application/octet-stream); ok is false for types that name no
// accepted raster format (text/html, image/svg+xml, ...).
func declaredFormat(contentType string) (f Format, claim, ok bool) {
	ct := strings.TrimSpace(contentType)
	if ct == "" {
		return "", false, false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", true, false
	}
	switch mt {
	case "application/octet-stream":
		return "", false, false
	case "image/jpeg", "image/jpg", "image/pjpeg":
		return JPEG, true, true
	case "image/png", "image/x-png", "image/apng":
		return PNG, true, true
	case "image/gif":
		return GIF, true, true
	case "image/webp":
		return WebP, true, true
	case "image/bmp", "image/x-bmp", "image/x-ms-bmp":
		return BMP, true, true
	case "image/tiff", "image/x-tiff":
		return TIFF, true, true
	case "image/avif":
		return AVIF, true, true
	case "image/heic", "image/heif":
		return HEIC, true, true
	}
	return "", true, false
}

// inspect checks an input from its magic bytes and header alone, in the order a careful
// reader would: what it is, whether the client's claim agrees, and whether its declared
// sizes and counts fit the limits. No pixel buffer is allocated.
func inspect(data []byte, pc putConfig, lim Limits) (header, error) {
	if len(data) == 0 {
		return header{}, fmt.Errorf("empty input: %w", ErrUnsupportedFormat)
	}
	f, isImage := sniff(data)
	var claimed Format
	var claim, claimOK bool
	if pc.hasDeclared {
		claimed, claim, claimOK = declaredFormat(pc.declared)
	}
	if !isImage {
		if claim {
			return header{}, fmt.Errorf("content is not an image but was declared as one: %w: %w", ErrUnsupportedFormat, ErrTypeMismatch)
		}
		return header{}, fmt.Errorf("content is not a supported image: %w", ErrUnsupportedFormat)
	}
	if claim && (!claimOK || claimed != f) {
		return header{}, fmt.Errorf("declared type disagrees with %s content: %w", f, ErrTypeMismatch)
	}
	if !lim.accepts(f) {
		return header{}, fmt.Errorf("%s is not an accepted format: %w", f, ErrUnsupportedFormat)
	}
	var h header
	var err error
	switch f {
	case JPEG:
		h, err = inspectJPEG(data, lim)
	case PNG:
		h, err = inspectPNG(data, lim)
	case GIF:
		h, err = inspectGIF(data, lim)
	case WebP:
		h, err = inspectWebP(data, lim)
	case BMP:
		h, err = inspectBMP(data, lim)
	case TIFF:
		h, err = inspectTIFF(data, lim)
	case AVIF, HEIC:
		h, err = inspectHEIF(data, f, lim)
	}
	if err != nil {
		return header{}, fmt.Errorf("%s header: %w", f, err)
	}
	h.format = f
	if h.frames == 0 {
		h.frames = 1
		h.totalPixels = int64(h.width) * int64(h.height)
	}
	if h.orientation == 0 {
		h.orientation = 1
	}
	return h, nil
}

// corrupt wraps a decoder's or scanner's complaint about broken data.
func corrupt(err error) error { return fmt.Errorf("%w: %w", ErrCorrupt, err) }

// checkConfig cross-checks our own header scan with the Go decoder's DecodeConfig, so the
// decoder that runs later reads the same size we checked.
func checkConfig(cfg image.Config, err error, w, h int) error {
	if err != nil {
		return corrupt(err)
	}
	if cfg.Width != w || cfg.Height != h {
		return fmt.Errorf("decoder reads %dx%d, header scan %dx%d: %w", cfg.Width, cfg.Height, w, h, ErrCorrupt)
	}
	return nil
}

func inspectJPEG(data []byte, lim Limits) (header, error) {
	info, err := jpegscan.Scan(data, maxJPEGScans)
	if err != nil && info.Width > 0 && info.Height > 0 {
		// A size read before the scanner gave up still counts: too big is ErrDimensions.
		if lerr := lim.checkFrame(info.Width, info.Height); lerr != nil {
			return header{}, lerr
		}
	}
	switch {
	case errors.Is(err, jpegscan.ErrTooManyScans):
		return header{}, &LimitError{What: "jpeg scans", Value: maxJPEGScans + 1, Limit: maxJPEGScans, err: ErrDimensions}
	case errors.Is(err, jpegscan.ErrUnsupported):
		return header{}, fmt.Errorf("%w: %w", ErrUnsupportedFormat, err)
	case err != nil:
		return header{}, corrupt(err)
	}
	if err := lim.checkFrame(info.Width, info.Height); err != nil {
		return header{}, err
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err := checkConfig(cfg, err, info.Width, info.Height); err != nil {
		return header{}, err
	}
	jh := &jpegdec.Header{Width: info.Width, Height: info.Height, Progressive: info.Progressive, AdobeTransform: info.AdobeTransform}
	for _, c := range info.Components {
		jh.Components = append(jh.Components, jpegdec.Component{ID: c.ID, H: c.H, V: c.V})
	}
	return header{width: info.Width, height: info.Height, orientation: info.Orientation, jpeg: jh}, nil
}

func inspectPNG(data []byte, lim Limits) (header, error) {
	// Read IHDR's size ourselves first: image/png calls a zero or over-int32 size a format
	// error, but it is a size out of bounds.
	const ihdrEnd = 8 + 8 + 8 // signature, chunk length+type, width, height
	if len(data) >= ihdrEnd && string(data[12:16]) == "IHDR" {
		w := int64(binary.BigEndian.Uint32(data[16:20]))
		h := int64(binary.BigEndian.Uint32(data[20:24]))
		if w == 0 || h == 0 || w > math.MaxInt32 || h > math.MaxInt32 {
			return header{}, &LimitError{What: "size", Width: int(min(w, math.MaxInt32)), Height: int(min(h, math.MaxInt32)), err: ErrDimensions}
		}
		if err := lim.checkFrame(int(w), int(h)); err != nil {
			return header{}, err
		}
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return header{}, corrupt(err)
	}
	if err := lim.checkFrame(cfg.Width, cfg.Height); err != nil {
		return header{}, err
	}
	// DecodeConfig's colour model ignores tRNS (a grey or truecolour image with one
	// decodes with alpha): size the decode from the chunks themselves.
	layout := scanPNGLayout(data)
	est := pngDecodeBytes(layout, cfg.Width, cfg.Height)
	_, palette := cfg.ColorModel.(color.Palette)
	return header{
		width:       cfg.Width,
		height:      cfg.Height,
		decodeBytes: est,
		alpha:       palette || hasAlphaModel(cfg.ColorModel) || layout.trns,
		pixelBytes:  layout.pixelBytes(),

		pngInterlaced: layout.interlaced,
	}, nil
}

func inspectGIF(data []byte, lim Limits) (header, error) {
	info, err := gifscan.Scan(data, lim.MaxFrames)
	switch {
	case errors.Is(err, gifscan.ErrTooManyFrames):
		return header{}, &LimitError{What: "frames", Value: int64(lim.MaxFrames) + 1, Limit: int64(lim.MaxFrames), err: ErrDimensions}
	case errors.Is(err, gifscan.ErrFrameBounds):
		return header{}, fmt.Errorf("%w: %w", ErrDimensions, err)
	case err != nil:
		return header{}, corrupt(err)
	}
	if err := lim.checkFrame(info.Width, info.Height); err != nil {
		return header{}, err
	}
	if err := lim.checkAnimation(info.Frames, info.FramePixels); err != nil {
		return header{}, err
	}
	cfg, err := gif.DecodeConfig(bytes.NewReader(data))
	if err := checkConfig(cfg, err, info.Width, info.Height); err != nil {
		return header{}, err
	}
	return header{
		width:       info.Width,
		height:      info.Height,
		frames:      info.Frames,
		totalPixels: info.FramePixels,
		// DecodeAll keeps every frame as a paletted image: one byte per frame pixel,
		// and the decoder's per-frame state.
		decodeBytes: info.FramePixels + int64(info.Frames)*gifFrameBytes,
		pixelBytes:  1,
		alpha:       true,
	}, nil
}

func inspectWebP(data []byte, lim Limits) (header, error) {
	info, err := webpscan.Scan(data)
	switch {
	case errors.Is(err, webpscan.ErrUnsupported):
		return header{}, fmt.Errorf("%w: %w", ErrUnsupportedFormat, err)
	case err != nil:
		return header{}, corrupt(err)
	}
	if err := lim.checkFrame(info.Width, info.Height); err != nil {
		return header{}, err
	}
	cfg, err := webp.DecodeConfig(bytes.NewReader(data))
	if err := checkConfig(cfg, err, info.Width, info.Height); err != nil {
		return header{}, err
	}
	px := int64(info.Width) * int64(info.Height)
	var est int64
	pb := int64(4)
	switch {
	case info.Lossless:
		est = vp8lBytes(info.Width, info.Height, int64(len(data)))
	default:
		// The lossy frame, and for an alpha plane (decode.go, readAlpha): a raw plane
		// of one byte per pixel, or, VP8L-compressed, a VP8L decode of the whole
		// canvas and then the one-byte plane copied out of its green channel. The
		// result is an NYCbCrA, which imaging and image/png read pixel by pixel.
		est = vp8Bytes(info.Width, info.Height, int64(len(data)))
		if info.Alpha {
			est += px
			if info.AlphaCompressed {
				est += vp8lBytes(info.Width, info.Height, int64(info.AlphaBytes))
			}
			pb = 0
		}
	}
	return header{width: info.Width, height: info.Height, decodeBytes: est, alpha: info.Alpha || info.Lossless, pixelBytes: pb}, nil
}

func inspectBMP(data []byte, lim Limits) (header, error) {
	// x/image/bmp reports every size problem as "unsupported"; read the declared size
	// ourselves so that a too-big or negative size is ErrDimensions, not a format error.
	// Go's own BMP detection requires the file header's four reserved bytes to be zero;
	// a file that image.DecodeConfig would not call a BMP is not accepted as one.
	if len(data) < 10 || binary.LittleEndian.Uint32(data[6:10]) != 0 {
		return header{}, fmt.Errorf("bmp reserved header bytes are not zero: %w", ErrUnsupportedFormat)
	}
	const infoHeaderEnd = 14 + 4 + 8 // file header, info header size, width, height
	if len(data) >= infoHeaderEnd && binary.LittleEndian.Uint32(data[14:18]) >= 40 {
		// BMP width and height are signed 32-bit fields (a negative height means top-down).
		w := int64(int32(binary.LittleEndian.Uint32(data[18:22]))) // #nosec G115 -- reinterpreting the signed field is the intent
		h := int64(int32(binary.LittleEndian.Uint32(data[22:26]))) // #nosec G115 -- as above
		if h < 0 {
			h = -h // top-down
		}
		if w <= 0 || h <= 0 || w > math.MaxInt32 || h > math.MaxInt32 {
			return header{}, &LimitError{What: "size", Width: int(w), Height: int(h), err: ErrDimensions}
		}
		if err := lim.checkFrame(int(w), int(h)); err != nil {
			return header{}, err
		}
	}
	cfg, err := bmp.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return header{}, fmt.Errorf("%w: %w", ErrUnsupportedFormat, err)
	}
	if err := lim.checkFrame(cfg.Width, cfg.Height); err != nil {
		return header{}, err
	}
	return header{width: cfg.Width, height: cfg.Height, decodeBytes: bmpDecodeBytes(cfg.Width, cfg.Height),
		alpha: hasAlphaModel(cfg.ColorModel), pixelBytes: bytesPerPixel(cfg.ColorModel)}, nil
}

func inspectTIFF(data []byte, lim Limits) (header, error) {
	info, err := tiffscan.Scan(data, tiffscan.Limits{MaxBlocks: maxTIFFBlocks, MaxIFDs: maxTIFFIFDs, MaxEntries: 1024})
	switch {
	case errors.Is(err, tiffscan.ErrTooManyBlocks), errors.Is(err, tiffscan.ErrEmpty):
		return header{}, fmt.Errorf("%w: %w", ErrDimensions, err)
	case errors.Is(err, tiffscan.ErrUnsupported):
		return header{}, fmt.Errorf("%w: %w", ErrUnsupportedFormat, err)
	case err != nil:
		return header{}, corrupt(err)
	}
	if err := lim.checkFrame(info.Width, info.Height); err != nil {
		return header{}, err
	}
	cfg, err := tiff.DecodeConfig(bytes.NewReader(data))
	if err := checkConfig(cfg, err, info.Width, info.Height); err != nil {
		return header{}, err
	}
	px := int64(info.Width) * int64(info.Height)
	bpp := bytesPerPixel(cfg.ColorModel)
	// x/image/tiff keeps the file in memory and inflates each compressed strip or tile
	// into a growing buffer capped at 8 bytes per block pixel: with the buffer's doubling,
	// up to three times that cap is allocated (CVE-2023-29408: a small deflate stream
	// inflating to far more than the image needs).
	est := px*bpp + int64(len(data))
	switch {
	case isCCITT(info.Compression):
		// One bit a pixel per block, not the 8 bytes the generic cap allows: ccitt.go.
		est = px*bpp + ccittDecodeBytes(info, len(data))
	case info.Compression != 1:
		est += 3 * 8 * int64(info.BlockWidth) * int64(info.BlockHeight)
	}
	pb := bpp
	if cfg.ColorModel == color.CMYKModel {
		pb = 0 // read pixel by pixel
	}
	return header{width: info.Width, height: info.Height, decodeBytes: est, alpha: hasAlphaModel(cfg.ColorModel), pixelBytes: pb}, nil
}

// bytesPerPixel is the size of one pixel in the image type a decoder returns for m.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 4
}

func hasAlphaModel(m color.Model) bool {
	switch m {
	case color.RGBAModel, color.NRGBAModel, color.RGBA64Model, color.NRGBA64Model, color.AlphaModel, color.Alpha16Model:
		return true
	}
	_, ok := m.(color.Palette)
	return ok
}
