package fastimagecache

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"

	"github.com/disintegration/imaging"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/jpegdec"
	"github.com/fastimagecache/fastimagecache/internal/resize"
)

// Fit says how an image is fitted into a Spec's box.
type Fit int

// The fits.
const (
	Contain Fit = iota // scale to fit inside Width x Height, keep aspect ratio (the zero value)
	Cover              // scale to cover the box, then crop (the centre, unless Spec says otherwise)
)

// String returns "contain" or "cover".
func (f Fit) String() string {
	switch f {
	case Contain:
		return "contain"
	case Cover:
		return "cover"
	}
	return fmt.Sprintf("Fit(%d)", int(f))
}

// Spec describes a rendition.
type Spec struct {
	Width, Height int // 0 means "unconstrained on this axis"; both 0 means full size
	Fit           Fit // Contain (default) or Cover
	// Format is the output format: JPEG, PNG, GIF, WebP or AVIF; "" picks one for the
	// source. An animated source keeps its frames in GIF and WebP output (an animated
	// WebP, with the GIF's delays and loop count); every other output takes its first
	// frame. Transparency never reaches JPEG (it is flattened onto white); WebP and AVIF
	// keep it. WebP is lossy (alpha compressed losslessly).
	//
	// The WebP and AVIF encoders run in WebAssembly and cannot be interrupted once
	// called: a render checks its context before calling them, and what bounds the call
	// is the output size (at most Limits.MaxPixels, times the frames of an animation).
	Format Format
	// Quality is 1..100 for JPEG, WebP and AVIF output; 0 means the format's default
	// (JPEG 82, WebP 80, AVIF 60); it is ignored for PNG and GIF.
	Quality int
	// Enlarge allows the output to be larger than the source. By default an image is never
	// scaled up: a box bigger than the source gives the source's size (Contain) or a crop of
	// it (Cover).
	Enlarge bool
	// Gravity and FocusX, FocusY choose the part a Cover crop keeps; they are ignored for
	// Contain. The focal point is given in fractions 0..1 of the oriented image's width
	// and height (0,0 its top-left corner), kept to 1/1000; the crop is centred on it, then
	// moved inside the image. The focal point is unset when both fractions round to 0 (a
	// point at the corner itself crops as NorthWest does); set, it overrides Gravity.
	// Unset, Gravity picks the centre (the zero value), an edge or a corner.
	Gravity        Gravity
	FocusX, FocusY float64
}

// The default qualities, by output format (see Spec.Quality).
const (
	defaultJPEGQuality = 82
	defaultWebPQuality = 80
	defaultAVIFQuality = 60
)

// The encoders' effort, fixed so that a rendition's bytes are a function of its key:
// WebP's method (0 fast .. 6 small) and AVIF's speed (0 small .. 10 fast). See
// BenchmarkGetFormats for what they cost.
const (
	webpMethod = 2
	avifSpeed  = 10
)

// canonical validates s against the limits and the source, and returns it in the one form
// that names its rendition: output format and quality resolved, Fit ignored where it makes
// no difference. Two Specs that render the same bytes have the same canonical form.
func (s Spec) canonical(lim Limits, src Info, alpha bool) (Spec, error) {
	switch {
	case s.Width < 0 || s.Height < 0:
		return Spec{}, fmt.Errorf("negative size %dx%d: %w", s.Width, s.Height, ErrInvalidSpec)
	case s.Width > lim.MaxWidth || s.Height > lim.MaxHeight:
		return Spec{}, fmt.Errorf("size %dx%d over %dx%d: %w", s.Width, s.Height, lim.MaxWidth, lim.MaxHeight, ErrInvalidSpec)
	case s.Quality < 0 || s.Quality > 100:
		return Spec{}, fmt.Errorf("quality %d outside 1..100: %w", s.Quality, ErrInvalidSpec)
	case s.Fit != Contain && s.Fit != Cover:
		return Spec{}, fmt.Errorf("unknown fit %d: %w", int(s.Fit), ErrInvalidSpec)
	}
	switch s.Format {
	case "":
		s.Format = defaultOutput(src.Format, alpha)
	case JPEG, PNG, GIF, WebP, AVIF:
	default:
		return Spec{}, fmt.Errorf("output format %q not supported: %w", string(s.Format), ErrInvalidSpec)
	}
	if q := defaultQuality(s.Format); q == 0 {
		s.Quality = 0
	} else if s.Quality == 0 {
		s.Quality = q
	}
	if s.Width == 0 || s.Height == 0 {
		s.Fit = Contain
	}
	if s.Width == 0 && s.Height == 0 {
		s.Enlarge = false
	}
	return s.canonicalCrop()
}

// key is the canonical Spec's name inside the store, together with the ID.
func (s Spec) key() string {
	return fmt.Sprintf("v1 w=%d h=%d fit=%s fmt=%s q=%d enlarge=%t", s.Width, s.Height, s.Fit, s.Format, s.Quality, s.Enlarge) + s.cropKey()
}

// defaultQuality is the quality a Spec of output format f gets when it gives none; 0 for
// the formats without a quality.
func defaultQuality(f Format) int {
	switch f {
	case JPEG:
		return defaultJPEGQuality
	case WebP:
		return defaultWebPQuality
	case AVIF:
		return defaultAVIFQuality
	}
	return 0
}

// animates reports whether output format f keeps an animation's frames.
func animates(f Format) bool { return f == GIF || f == WebP }

// defaultOutput picks the output format for a source: the same for JPEG, PNG and GIF;
// JPEG for other opaque sources, PNG when they may have transparency.
func defaultOutput(src Format, alpha bool) Format {
	switch src {
	case JPEG, PNG, GIF:
		return src
	}
	if alpha {
		return PNG
	}
	return JPEG
}

// geometry computes, for an (oriented) source of sw×sh and a canonical Spec, the size the
// image is scaled to (rw×rh) and the final size after the Cover crop (ow×oh).
func geometry(sw, sh int, s Spec) (rw, rh, ow, oh int) {
	if s.Width == 0 && s.Height == 0 {
		return sw, sh, sw, sh
	}
	fw, fh := float64(s.Width)/float64(sw), float64(s.Height)/float64(sh)
	var scale float64
	switch {
	case s.Width == 0:
		scale = fh
	case s.Height == 0:
		scale = fw
	case s.Fit == Cover:
		scale = math.Max(fw, fh)
	default:
		scale = math.Min(fw, fh)
	}
	if !s.Enlarge && scale > 1 {
		scale = 1
	}
	rw = max(1, int(math.Round(float64(sw)*scale)))
	rh = max(1, int(math.Round(float64(sh)*scale)))
	// Where one axis set the scale, land on it exactly despite rounding.
	if scale == fw && s.Width > 0 {
		rw = s.Width
	}
	if scale == fh && s.Height > 0 {
		rh = s.Height
	}
	ow, oh = rw, rh
	if s.Fit == Cover {
		ow, oh = min(rw, s.Width), min(rh, s.Height)
	}
	return rw, rh, ow, oh
}

// orientedSize is the size an image of w×h has once its EXIF orientation is applied.
func orientedSize(w, h, orientation int) (int, int) {
	if orientation >= 5 && orientation <= 8 {
		return h, w
	}
	return w, h
}

// rendered is the output of render: encoded bytes and what describes them.
type rendered struct {
	data          []byte
	format        Format
	width, height int
}

// render decodes data (already inspected as h), applies EXIF orientation, resizes per the
// canonical spec s and encodes. It is a function of its inputs only, so it can later run in
// a separate worker process. Every output byte comes from our encoder.
func render(ctx context.Context, data []byte, h header, s Spec) (rendered, error) {
	var dec decoded
	var err error
	if streamsPNG(h, s) {
		dec, err = decodePNGShrunk(ctx, data, h, s)
	} else {
		dec, err = decodeImage(ctx, data, h, renderOpts(h, s))
	}
	if err != nil {
		return rendered{}, err
	}
	return renderDecoded(ctx, dec, h, s)
}

// reusable reports whether rendering h to s from dec, a decode made with proveOpts, gives
// the bytes render gives: when s's own decode would make the same pixels. A JPEG decoded
// at 1/8 is the same with or without its AC coefficients (the 1/8 inverse DCT reads DC
// alone); other formats decode the same whatever the options, and a GIF's first frame is
// the same whether or not the others were decoded.
func reusable(dec decoded, h header, s Spec) bool {
	o := renderOpts(h, s)
	return dec.img != nil && (h.format != JPEG || o.jpegScale == proveOpts.jpegScale) &&
		(!o.allFrames || dec.anim != nil)
}

// renderDecoded is render after the decode: orientation, resize, encoding. An animation
// is encoded as one only when s asks for every frame (see renderOpts).
func renderDecoded(ctx context.Context, dec decoded, h header, s Spec) (rendered, error) {
	if !renderOpts(h, s).allFrames {
		dec.anim = nil
	}
	var buf chunkBuffer
	if dec.anim != nil {
		encodeAnim := encodeAnimation
		if s.Format == WebP {
			encodeAnim = encodeWebPAnimation
		}
		w, hgt, err := encodeAnim(ctx, &buf, dec.anim, h, s)
		if err != nil {
			return rendered{}, err
		}
		return rendered{data: buf.Bytes(), format: s.Format, width: w, height: hgt}, nil
	}
	var img image.Image
	if dec.scaled { // resized and oriented as it was decoded (see renderStreamed)
		img, _ = cropFocus(dec.img, h, s)
	} else {
		img, _ = transformFocus(dec.img, h, s, rowWorkers(ctx))
	}
	if err := ctx.Err(); err != nil { // the last chance: the WebP and AVIF encoders cannot be interrupted
		return rendered{}, err
	}
	if err := encode(&buf, img, s); err != nil {
		return rendered{}, err
	}
	b := img.Bounds()
	return rendered{data: buf.Bytes(), format: s.Format, width: b.Dx(), height: b.Dy()}, nil
}

// renderOpts picks how to decode h for a rendition s: a JPEG is decoded at the scale
// jpegdec.ScaleFor picks for the target size (shrink on load: the smallest that leaves
// twice the target for the filter, bounded in memory for progressive files).
func renderOpts(h header, s Spec) decodeOpts {
	o := decodeOpts{allFrames: animates(s.Format) && h.frames > 1, jpegScale: 1}
	if h.format != JPEG {
		return o
	}
	ow0, oh0 := orientedSize(h.width, h.height, h.orientation)
	rw, rh, _, _ := geometry(ow0, oh0, s)
	if h.orientation >= 5 {
		rw, rh = rh, rw // back to the stored axes
	}
	jo := jpegdec.ScaleFor(*h.jpeg, rw, rh)
	o.jpegScale, o.skipAC = jo.Scale, jo.SkipAC
	return o
}

// transform resizes src (as decoded, before orientation) so that, once oriented and
// cropped, it matches the spec. Resizing comes before orientation, so the rotation works
// on the small image.
func transform(src image.Image, h header, s Spec) image.Image {
	img, _ := transformFocus(src, h, s, 1)
	return img
}

// transformFocus is transform that also returns s with a Smart crop's point, chosen from
// this image, set as its focal point, so the frames of an animation after the first crop
// where the first did rather than each at its own point. The resize may split its rows
// across up to workers goroutines (see renderSlot).
func transformFocus(src image.Image, h header, s Spec, workers int) (image.Image, Spec) {
	dw, dh := resizeTarget(h, s)
	// Decoded images are scaled and oriented in fixed point: YCbCr and gray plane by
	// plane (staying YCbCr for the encoder), RGBA, NRGBA, paletted, 16-bit, CMYK and
	// NYCbCrA as premultiplied interleaved RGBA (see resize.Image). Other types, and
	// those at their own size, go through imaging.
	img, ok := resize.ImageWorkers(src, dw, dh, h.orientation, workers)
	if !ok {
		if b := src.Bounds(); b.Dx() != dw || b.Dy() != dh {
			img = imaging.Resize(src, dw, dh, imaging.Lanczos)
		}
		img = orient(img, h.orientation)
	}
	return cropFocus(img, h, s)
}

// cropFocus is the end of transformFocus: the crop of img, already resized and
// oriented, to s's output size.
func cropFocus(img image.Image, h header, s Spec) (image.Image, Spec) {
	ow0, oh0 := orientedSize(h.width, h.height, h.orientation)
	rw, rh, ow, oh := geometry(ow0, oh0, s)
	if ow != rw || oh != rh {
		fx, fy := s.focus()
		if s.smart() {
			fx, fy = smartFocus(img, ow, oh)
			s.FocusX, s.FocusY = float64(fx)/1000, float64(fy)/1000
		}
		img = crop(img, ow, oh, fx, fy)
	}
	return img, s
}

// orient applies an EXIF orientation (1..8).
func orient(img image.Image, o int) image.Image {
	switch o {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img)
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img)
	}
	return img
}

// encode writes img in the spec's format. JPEG output is flattened onto white. The
// WebP and AVIF encoders cannot be interrupted: the caller checks its context first.
func encode(buf io.Writer, img image.Image, s Spec) error {
	var err error
	switch s.Format {
	case WebP:
		err = codec.EncodeWebP(buf, img, codec.WebPOptions{Quality: s.Quality, Method: webpMethod})
	case AVIF:
		err = codec.EncodeAVIF(buf, img, codec.AVIFOptions{Quality: s.Quality, Speed: avifSpeed})
	case JPEG:
		err = jpeg.Encode(buf, flatten(img), &jpeg.Options{Quality: s.Quality})
	case PNG:
		enc := png.Encoder{CompressionLevel: png.DefaultCompression}
		err = enc.Encode(buf, img)
	case GIF:
		err = gif.Encode(buf, img, &gif.Options{NumColors: 256})
	default:
		err = fmt.Errorf("no encoder for %q: %w", string(s.Format), ErrInvalidSpec)
	}
	if err != nil {
		return fmt.Errorf("encode %s: %w", s.Format, err)
	}
	return nil
}

// flatten composites an image with transparency onto white, for JPEG output.
func flatten(img image.Image) image.Image {
	if o, ok := img.(interface{ Opaque() bool }); ok && o.Opaque() {
		return img
	}
	b := img.Bounds()
	dst := image.NewRGBA(b)
	draw.Draw(dst, b, image.White, image.Point{}, draw.Src)
	draw.Draw(dst, b, img, b.Min, draw.Over)
	return dst
}

// eachFrame composites the frames of an animated GIF in order (honouring disposal),
// resizes each full picture per s, and hands it to emit with its delay (in hundredths of
// a second). The image emit gets is reused: emit must copy what it keeps.
func eachFrame(ctx context.Context, g *gif.GIF, h header, s Spec, emit func(small image.Image, delay int) error) error {
	screen := image.Rect(0, 0, g.Config.Width, g.Config.Height)
	canvas := image.NewNRGBA(screen)
	var previous *image.NRGBA
	for i, frame := range g.Image {
		if err := ctx.Err(); err != nil {
			return err
		}
		disposal := byte(0)
		if i < len(g.Disposal) {
			disposal = g.Disposal[i]
		}
		if disposal == gif.DisposalPrevious {
			if previous == nil {
				previous = image.NewNRGBA(screen)
			}
			copy(previous.Pix, canvas.Pix)
		}
		draw.Draw(canvas, frame.Bounds(), frame, frame.Bounds().Min, draw.Over)
		delay := 0
		if i < len(g.Delay) {
			delay = g.Delay[i]
		}
		var small image.Image
		small, s = transformFocus(canvas, h, s, rowWorkers(ctx))
		if err := emit(small, delay); err != nil {
			return err
		}
		switch disposal {
		case gif.DisposalBackground:
			draw.Draw(canvas, frame.Bounds(), image.Transparent, image.Point{}, draw.Src)
		case gif.DisposalPrevious:
			copy(canvas.Pix, previous.Pix)
		}
	}
	return nil
}

// encodeAnimation resizes every frame of an animated GIF and encodes them as a new GIF,
// keeping delays and the loop count. Every output frame is a full picture.
func encodeAnimation(ctx context.Context, buf io.Writer, g *gif.GIF, h header, s Spec) (int, int, error) {
	out := &gif.GIF{LoopCount: g.LoopCount}
	var w, hgt int
	var q *paletteIndexer
	err := eachFrame(ctx, g, h, s, func(small image.Image, delay int) error {
		b := small.Bounds()
		w, hgt = b.Dx(), b.Dy()
		pal := paletteFor(g.Image[len(out.Image)].Palette)
		pf := image.NewPaletted(b, pal)
		q = indexerFor(q, pal)
		q.draw(pf, small)
		pf.Rect = image.Rect(0, 0, w, hgt)
		out.Image = append(out.Image, pf)
		out.Delay = append(out.Delay, delay)
		// Every output frame is a full picture; clear it before the next one is shown.
		out.Disposal = append(out.Disposal, gif.DisposalBackground)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	out.Config = image.Config{Width: w, Height: hgt}
	if err := gif.EncodeAll(buf, out); err != nil {
		return 0, 0, fmt.Errorf("encode gif: %w", err)
	}
	return w, hgt, nil
}

// encodeWebPAnimation is encodeAnimation to an animated WebP: the same frames (full
// pictures, resized), their delays converted to milliseconds, the same loop count.
func encodeWebPAnimation(ctx context.Context, buf io.Writer, g *gif.GIF, h header, s Spec) (int, int, error) {
	var frames []image.Image
	var delays []int
	var w, hgt int
	err := eachFrame(ctx, g, h, s, func(small image.Image, delay int) error {
		b := small.Bounds()
		w, hgt = b.Dx(), b.Dy()
		f := image.NewNRGBA(image.Rect(0, 0, w, hgt))
		draw.Draw(f, f.Bounds(), small, b.Min, draw.Src)
		frames = append(frames, f)
		delays = append(delays, 10*delay)
		return nil
	})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return 0, 0, err
	}
	if err := codec.EncodeWebPAnimation(buf, frames, delays, webpLoops(g.LoopCount), codec.WebPOptions{Quality: s.Quality, Method: webpMethod}); err != nil {
		return 0, 0, fmt.Errorf("encode webp: %w", err)
	}
	return w, hgt, nil
}

// webpLoops converts a GIF's loop count (0 forever, -1 once, n: n+1 times) to WebP's
// (0 forever, n: n times).
func webpLoops(gifLoops int) int {
	switch {
	case gifLoops == 0:
		return 0
	case gifLoops < 0:
		return 1
	}
	return gifLoops + 1
}

// paletteFor returns the palette for a resized frame: the frame's own, with a transparent
// entry so that cleared areas stay clear.
func paletteFor(p color.Palette) color.Palette {
	for _, c := range p {
		if _, _, _, a := c.RGBA(); a == 0 {
			return p
		}
	}
	if len(p) >= 256 {
		out := append(color.Palette(nil), p[:255]...)
		return append(out, color.Transparent)
	}
	return append(append(color.Palette(nil), p...), color.Transparent)
}

// chunkSize is the size of a chunkBuffer's pieces.
const chunkSize = 64 << 10

// chunkBuffer collects an encoder's output in fixed pieces and copies them once into a
// slice of the exact size: it allocates at most twice the output and one piece, where a
// bytes.Buffer's doubling allocates up to four times the output along the way.
type chunkBuffer struct {
	chunks [][]byte
	n      int
}

// Write appends p; it never fails.
func (b *chunkBuffer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(b.chunks) == 0 || len(b.chunks[len(b.chunks)-1]) == chunkSize {
			b.chunks = append(b.chunks, make([]byte, 0, chunkSize))
		}
		last := &b.chunks[len(b.chunks)-1]
		k := min(len(p), chunkSize-len(*last))
		*last = append(*last, p[:k]...)
		p = p[k:]
	}
	b.n += n
	return n, nil
}

// Bytes returns everything written, in one slice of its own, and drops the pieces.
func (b *chunkBuffer) Bytes() []byte {
	out := make([]byte, 0, b.n)
	for _, c := range b.chunks {
		out = append(out, c...)
	}
	b.chunks = nil
	return out
}
