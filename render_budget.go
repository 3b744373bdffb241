package fastimagecache

import (
	"context"
	"fmt"
	"runtime"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/resize"
)

// renderBytes estimates the memory a render of h to s allocates, from the decode to the
// encoded bytes: the decode at the Spec's scale; the resize, which for every type the
// decoders return runs internal/resize's planar or interleaved filter and orients the
// result (resize.AnyImageBytes, for as many goroutines as renderSlot can grant;
// resize.GrayBytes for a JPEG of one component, which decodes to an *image.Gray), or at
// the source's own size the orientation copy imaging makes; the flattening copy; the
// encoder's output (see encodedBytes); for an image type the encoders read through At
// at full size, a boxed colour or two per pixel; for an animation, the canvas and every
// frame's resize and output; and the WebP or AVIF encoder's own allocation (codecBytes,
// webpAnimBytes), with the AVIF module's set-up while no AVIF call has run in this
// process.
func renderBytes(h header, s Spec) int64 {
	ow0, oh0 := orientedSize(h.width, h.height, h.orientation)
	rw, rh, ow, oh := geometry(ow0, oh0, s)
	o := renderOpts(h, s)
	dw, dh := h.decodedSize(o)
	src := int64(h.width) * int64(h.height)
	scaled := int64(rw) * int64(rh)
	out := int64(ow) * int64(oh)
	tw, th := rw, rh // the resize target, in the decoded image's axes
	if h.orientation >= 5 {
		tw, th = rh, rw
	}
	resized := tw != dw || th != dh
	var frame int64 // the resize, oriented: what transformFocus allocates
	if resized {
		frame = resize.AnyImageBytes(dw, dh, tw, th, h.orientation, runtime.GOMAXPROCS(0))
		if h.format == JPEG && len(h.jpeg.Components) == 1 {
			frame = resize.GrayBytes(dw, dh, tw, th, h.orientation, runtime.GOMAXPROCS(0)) // jpegdec's *image.Gray
		}
	}
	est := h.decodeBytesFor(o) + frame + 4*out + encodedBytes(h, s, ow, oh, resized)
	if !resized {
		est += 4 * scaled // imaging's oriented NRGBA copy
	}
	if h.pixelBytes == 0 && h.format != JPEG && !resized {
		// image/png's and image/jpeg's encoders, given the image itself at full size (an
		// NYCbCrA or CMYK), box one or two colours per pixel through At.
		est += 8 * src
	}
	if h.format == GIF && s.Format == WebP && h.frames > 1 {
		// encodeWebPAnimation: eachFrame's canvases and per frame a resize of the whole
		// canvas and an NRGBA copy of the output kept to the end, then the encoder with
		// every frame (webpAnimBytes).
		return est + 12*src + int64(h.frames)*(frame+4*out) + webpAnimBytes(out, h.frames)
	}
	est += codecBytes(s.Format, out)
	if h.format == GIF {
		est += 4 * src // canvas the first frame is composited on
		if s.Format == GIF && h.frames > 1 {
			// encodeAnimation: its canvas and the previous one, then per frame a resize of the
			// whole canvas, a paletted frame of the output size, and gif.EncodeAll's
			// LZW writer (compress/lzw: a 16384-entry uint32 table, 64 KiB) with the
			// frame's palette and draw's palette lookup table (4 KiB each).
			est += 8*src + int64(h.frames)*(frame+out+gifEncodeFrameBytes)
		}
	}
	return est
}

// The WebP and AVIF encoders' allocations, measured (TestMeasureEncoders, with the
// collector off) on photo-like pictures and on noise from 64×64 to 2048×1536, and
// bounded here with a margin. Their WebAssembly linear memory is Go memory (wasm2go's
// slice for WebP, wazero's for AVIF), so the budget counts it like any other
// allocation; the peak resident growth measured stays below the allocation. WebP's
// memory grows by append (about 1.25 times a step), so it allocates several times what
// it ends up holding, and its buffers follow the picture's entropy.
//
// WebP (lossy, method 2), photo: 0.4 MiB at 64×64, 2.2 MiB at 320×213, 11 MiB at
// 1024×768, 79 MiB at 2048×1536; noise: 13 MiB at 320×213 (201 B a pixel), 45 MiB at
// 640×480, 119 MiB at 1024×768 (159 B a pixel). Bound: 2 MiB + 224 B a pixel, which
// includes converting a YCbCr image to NRGBA. Animated WebP (frames encoded one after
// the other, all of them copied twice on the Go side and once into the module): 17.8
// MiB for ten 320×240 photo frames, 31.5 MiB for ten of noise, 69 MiB for ten 640×480
// photo frames. Bound: 8 MiB + 32 B a pixel a frame + one still frame's 224 B a pixel.
// AVIF (speed 10): 13.8 MiB at 64×64, 26.6 MiB at 320×213, 125 MiB (noise: 128 MiB) at
// 1024×768, 395 MiB at 2048×1536. Bound: 20 MiB + 200 B a pixel. The first AVIF call in
// a process also compiles the module: setupBytes.
const (
	webpFixedBytes     = 2 << 20
	webpPixelBytes     = 224
	webpAnimFixedBytes = 8 << 20
	webpAnimPixelBytes = 32
	avifFixedBytes     = 20 << 20
	avifPixelBytes     = 200
	// avifSetupBytes is what the first AVIF call allocates besides its encode: wazero
	// compiling libavif with libaom and dav1d (135 MiB allocated, peak resident memory
	// +147 MiB for a first 320×213 encode that alone takes 27 MiB). Reserved until
	// codec.AVIFReady; what stays afterwards (about 6 MiB of heap and the compiled code,
	// mapped outside the Go heap) is the process's, like its own code.
	avifSetupBytes = 160 << 20
	// heicSetupBytes is the same for the HEIC decoder (46 MB allocated, measured).
	heicSetupBytes = 64 << 20
)

// prepareCodecs sets up, before a job of in → out starts, the wazero codecs it would
// otherwise set up on its first call (seconds of compiling on a loaded machine), so that
// the set-up never counts against the job's DecodeTimeout. The set-up holds its own
// reservation (setupBytes) until it has finished, even when ctx ends first: it cannot be
// interrupted. held is what the caller holds outside the budget while it waits (see
// budget.reserveHolding).
func (c *Cache) prepareCodecs(ctx context.Context, in, out Format, held int64) error {
	if c.setupBytes(in, out) == 0 {
		return nil
	}
	// One set-up at a time in the process (the modules are the process's): the others
	// wait for it, then find nothing left to do.
	select {
	case codecSetup <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("prepare codec: %w", ctx.Err())
	}
	admitted := true // until the set-up goroutine owns the admission
	defer func() {
		if admitted {
			<-codecSetup
		}
	}()
	n := c.setupBytes(in, out)
	if n == 0 {
		return nil
	}
	release, err := c.budget.reserveHolding(ctx, n, held)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	admitted = false
	go func() {
		defer func() { <-codecSetup }()
		defer release()
		var err error
		if in == AVIF || out == AVIF {
			err = codec.PrepareAVIF()
		}
		if err == nil && in == HEIC {
			err = codec.PrepareHEIC()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			return nil
		}
		if in == AVIF || in == HEIC {
			return fmt.Errorf("%s input: %w: %w", in, ErrUnsupportedFormat, err)
		}
		return fmt.Errorf("%s output: %w: %w", out, ErrInvalidSpec, err)
	case <-ctx.Done():
		return fmt.Errorf("prepare codec: %w", ctx.Err())
	}
}

// codecSetup admits one prepareCodecs at a time.
var codecSetup = make(chan struct{}, 1)

// setupBytes is what the first call of a wazero codec costs this process, for a job
// decoding in and encoding out, while that codec has not been set up yet (codec.AVIFReady,
// codec.HEICReady). Every reservation that may call a codec adds it. Isolated, the host
// calls no codec: prepared workers set the modules up before their first job, and
// unprepared ones (tests only) run wazero's interpreter, which compiles nothing.
func (c *Cache) setupBytes(in, out Format) int64 {
	if c.iso != nil && c.iso.prepared {
		return 0
	}
	var n int64
	if (in == AVIF || out == AVIF) && !codec.AVIFReady() {
		n += avifSetupBytes
	}
	if in == HEIC && !codec.HEICReady() {
		n += heicSetupBytes
	}
	return n
}

// codecBytes is what the WebP or AVIF encoder allocates for a still picture of out
// pixels (0 for the other formats).
func codecBytes(f Format, out int64) int64 {
	switch f {
	case WebP:
		return webpFixedBytes + webpPixelBytes*out
	case AVIF:
		return avifFixedBytes + avifPixelBytes*out
	}
	return 0
}

// webpAnimBytes is what the animated WebP encoder allocates for frames frames of out
// pixels each.
func webpAnimBytes(out int64, frames int) int64 {
	return webpAnimFixedBytes + webpAnimPixelBytes*out*int64(frames) + webpPixelBytes*out
}

// gifEncodeFrameBytes is what encoding one more frame of an animation allocates besides
// its pixels (see renderBytes).
const gifEncodeFrameBytes = 80 << 10

// encodedBytes bounds what encoding an ow×oh rendition allocates: its output twice (the
// chunks it is written into, then the one slice they are copied to: see chunkBuffer)
// at the largest size the encoder can produce, plus the encoder's own state. PNG
// writes the image's own samples (NRGBA after imaging, else the decoded type: 8 bytes
// a pixel at 16 bits) with a filter byte per row, and deflate never grows incompressible
// data by more than 5 bytes per 64 KiB block; GIF writes LZW codes of at most 12 bits
// per 8-bit pixel; a JPEG at quality 100 of noise stays under 4 bytes per pixel.
func encodedBytes(h header, s Spec, ow, oh int, resized bool) int64 {
	out := int64(ow) * int64(oh)
	var n int64
	switch s.Format {
	case PNG:
		pb := int64(4)
		if !resized && h.format != JPEG {
			pb = max(pb, h.pixelBytes)
		}
		n = pb*out + int64(oh)
		n += n/65535*5 + 64
	case GIF:
		n = 2 * out
	default:
		n = 4 * out
	}
	return 2*n + chunkSize + encoderState
}

// encoderState covers an encoder's fixed allocations: compress/flate's compressor (about
// 1 MiB at the default level: hash chains, window, tokens) for PNG, the Huffman and
// quantisation tables for JPEG, a quantised palette for GIF.
const encoderState = 1200 << 10

// renderNeed is the reservation of a render of h to s from inputBytes of encoded input:
// the render's own estimate, the input it reads from, a fixed overhead, and in isolated
// mode the bound of the worker's answer, which is read into this process.
func (c *Cache) renderNeed(h header, s Spec, inputBytes int) int64 {
	rb := renderBytes(h, s)
	if streamsPNG(h, s) {
		rb = streamedPNGBytes(h, s) // render decodes it row by row (render_stream.go)
	}
	return rb + int64(inputBytes) + decodeOverhead + c.answerBytes(h, s) + c.setupBytes(h.format, s.Format)
}
