package fastimagecache

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/sandbox"
)

// allocShape is one generated input whose decode and renders are measured.
type allocShape struct {
	name string
	data []byte
}

// allocW and allocH size the measured shapes: a megapixel, so that a per-pixel
// estimate one byte short is about 1 MiB short, more than decodeOverhead hides.
const allocW, allocH = 1200, 900

// allocShapes are the generated inputs of TestReservationCoversAllocation: every
// format, and within each the decoder's distinct output types.
func allocShapes(t testing.TB) []allocShape {
	w, h := allocW, allocH
	var shapes []allocShape
	add := func(name string, data []byte) { shapes = append(shapes, allocShape{name, data}) }
	for _, s := range []fixture.PNGShape{
		{ColorType: 0, BitDepth: 8},
		{ColorType: 0, BitDepth: 8, TRNS: true},
		{ColorType: 0, BitDepth: 1, TRNS: true},
		{ColorType: 0, BitDepth: 16},
		{ColorType: 0, BitDepth: 16, TRNS: true},
		{ColorType: 2, BitDepth: 8},
		{ColorType: 2, BitDepth: 8, TRNS: true},
		{ColorType: 2, BitDepth: 16, TRNS: true},
		{ColorType: 4, BitDepth: 8},
		{ColorType: 6, BitDepth: 8},
		{ColorType: 6, BitDepth: 16},
		{ColorType: 0, BitDepth: 8, TRNS: true, Interlaced: true},
		{ColorType: 2, BitDepth: 8, Interlaced: true},
		{ColorType: 6, BitDepth: 16, Interlaced: true},
		{ColorType: 3, BitDepth: 1},
		{ColorType: 3, BitDepth: 2, TRNS: true},
		{ColorType: 3, BitDepth: 4},
		{ColorType: 3, BitDepth: 8, TRNS: true, Interlaced: true},
	} {
		s.Width, s.Height = w, h
		name := fmt.Sprintf("png/ct%d-%dbit", s.ColorType, s.BitDepth)
		if s.TRNS {
			name += "-trns"
		}
		if s.Interlaced {
			name += "-adam7"
		}
		add(name, fixture.PNGRaw(s))
	}
	add("webp/lossy", fixture.WebPLossy(w, h))
	add("webp/lossy-alpha-raw", fixture.WebPLossyAlpha(w, h, fixture.AlphaRaw))
	add("webp/lossy-alpha-vp8l", fixture.WebPLossyAlpha(w, h, fixture.AlphaVP8L))
	add("webp/lossy-alpha-vp8l-indexed", fixture.WebPLossyAlpha(w, h, fixture.AlphaVP8LIndex))
	add("webp/lossless", fixture.WebPLossless(w, h, color.NRGBA{R: 9, G: 80, B: 200, A: 128}))
	// Twice the size each way: these files are a few dozen bytes, and the estimate
	// allows for prefix-code groups in proportion to them.
	add("webp/lossless-indexed", fixture.WebPLosslessIndexed(2*w, 2*h, 16))
	add("webp/lossy-narrow", fixture.WebPLossy(17, 4000)) // macroblock padding: 32 columns decoded for 17
	add("bmp/24bit", fixture.BMP(w, h))
	add("bmp/8bit-paletted", encodeWith(t, func(b *bytes.Buffer) error { return bmp.Encode(b, noisyPaletted(w, h)) }))
	add("bmp/32bit-nrgba", encodeWith(t, func(b *bytes.Buffer) error { return bmp.Encode(b, noisyNRGBA(w, h)) }))
	add("tiff/rgba", fixture.TIFF(w, h))
	for _, c := range []struct {
		name string
		comp tiff.CompressionType
	}{{"none", tiff.Uncompressed}, {"deflate", tiff.Deflate}} {
		add("tiff/gray-"+c.name, encodeWith(t, func(b *bytes.Buffer) error {
			return tiff.Encode(b, noisyGray(w, h), &tiff.Options{Compression: c.comp})
		}))
		add("tiff/nrgba-"+c.name, encodeWith(t, func(b *bytes.Buffer) error {
			return tiff.Encode(b, noisyNRGBA(w, h), &tiff.Options{Compression: c.comp})
		}))
	}
	add("tiff/paletted-deflate", encodeWith(t, func(b *bytes.Buffer) error {
		return tiff.Encode(b, noisyPaletted(w, h), &tiff.Options{Compression: tiff.Deflate})
	}))
	add("gif/still", fixture.GIF(w, h, 1))
	add("gif/anim-5", fixture.GIF(w/2, h/2, 5))
	add("gif/anim-100-small", fixture.GIF(64, 48, 100)) // per-frame decoder state outweighs the pixels
	add("gif/anim-subframes", encodeWith(t, func(b *bytes.Buffer) error { return gif.EncodeAll(b, subframeGIF(w/2, h/2, 8)) }))
	add("jpeg/420", fixture.JPEG(w, h, 85))
	// Progressive, decoded at full scale for the larger sizes: the planes are written
	// into the coefficient store (jpegdec's reconstructInPlace).
	add("jpeg/progressive-420", fixture.JPEGFlatProgressive420(w, h))
	add("jpeg/progressive-gray", fixture.JPEGFlat(w, h, 1, true))
	// EXIF orientations: the resize's oriented copy, turned axes, and a gray plane.
	add("jpeg/420-orient6", fixture.WithEXIFOrientation(fixture.JPEG(w, h, 85), 6))
	add("jpeg/gray-orient5", fixture.WithEXIFOrientation(fixture.JPEGFlat(w, h, 1, false), 5))
	// AVIF from the encoder: the decoder's linear memory grows in steps, so two sizes.
	opaque := noisyNRGBA(w, h)
	for i := 3; i < len(opaque.Pix); i += 4 {
		opaque.Pix[i] = 255
	}
	add("avif/opaque", encodeAVIF(t, opaque))
	add("avif/alpha", encodeAVIF(t, noisyNRGBA(w, h)))
	add("avif/small-alpha", encodeAVIF(t, noisyNRGBA(w/3, h/3)))
	return shapes
}

func encodeWith(t testing.TB, enc func(*bytes.Buffer) error) []byte {
	var b bytes.Buffer
	require.NoError(t, enc(&b))
	return b.Bytes()
}

func noisyGray(w, h int) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(i*7919>>3) ^ uint8(i/w)
	}
	return m
}

func noisyNRGBA(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(i*7919>>3) ^ uint8(i/w)
	}
	return m
}

func noisyPaletted(w, h int) *image.Paletted {
	m := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
	for i := range m.Pix {
		m.Pix[i] = uint8(i*7919>>3) ^ uint8(i/w)
	}
	return m
}

// subframeGIF is an animation whose frames are small rectangles of a w×h screen.
func subframeGIF(w, h, frames int) *gif.GIF {
	g := &gif.GIF{Config: image.Config{Width: w, Height: h, ColorModel: color.Palette(palette.Plan9)}}
	for i := range frames {
		r := image.Rect(i*w/frames/2, i*h/frames/2, i*w/frames/2+w/4, i*h/frames/2+h/4)
		m := image.NewPaletted(r, palette.Plan9)
		for j := range m.Pix {
			m.Pix[j] = uint8(j + i)
		}
		g.Image = append(g.Image, m)
		g.Delay = append(g.Delay, 5)
		g.Disposal = append(g.Disposal, gif.DisposalPrevious)
	}
	return g
}

// allocSpecs are the renditions measured for each shape: a thumbnail, a contained
// medium size in each output format (WebP and AVIF through their WebAssembly encoders,
// whose linear memory is Go memory and so counted), and the full size.
var allocSpecs = []Spec{
	{Width: 160, Height: 160, Fit: Cover},
	{Width: 640, Height: 640, Format: JPEG},
	{Width: 640, Height: 0, Format: PNG},
	{Width: 300, Height: 300, Format: GIF},
	{Width: 640, Height: 640, Format: WebP}, // an animated WebP for an animated GIF
	{Width: 300, Height: 300, Fit: Cover, Format: AVIF},
	{},
}

// allocExtraSpecs are renditions measured for some shapes only, being slow: AVIF at full
// size (a megapixel: its per-pixel cost, on a photo-like and on a noisy picture) and
// animated WebP of many small frames (its per-frame cost).
var allocExtraSpecs = map[string][]Spec{
	"jpeg/420":           {{Format: AVIF}},
	"jpeg/420-orient6":   {{Width: 700, Format: JPEG}, {Width: 500, Height: 900, Fit: Cover, Format: PNG}},
	"png/ct6-8bit":       {{Format: AVIF}},
	"gif/anim-100-small": {{Format: WebP}, {Width: 32, Format: WebP}},
}

// totalAlloc returns the bytes f allocates, with the collector off so that nothing
// is missed; the caller must run nothing else meanwhile.
func totalAlloc(f func()) int64 {
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc) // #nosec G115 -- a delta of a counter that only grows
}

// TestReservationCoversAllocation is the budget's promise, measured: for every
// format and shape, the reservation of Put's proving decode covers what that decode
// allocates (TotalAlloc, the collector off), and the reservation of each Get miss's
// render covers what the render allocates, from the decode to the encoded bytes.
// The input bytes are counted in both reservations and held by the caller, so
// they are not measured again.
func TestReservationCoversAllocation(t *testing.T) {
	if sandbox.RaceEnabled {
		// The race detector's instrumentation changes what is allocated (an append is no
		// longer merged with its make, so buffers are allocated twice) and runs this test
		// 30 times slower; the plain `go test ./...` measures the real thing.
		t.Skip("allocation is measured without the race detector")
	}
	lim := DefaultLimits()
	lim.Formats = []Format{JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF}
	ctx := context.Background()
	for _, sh := range allocShapes(t) {
		t.Run(sh.name, func(t *testing.T) {
			h, err := inspect(sh.data, putConfig{}, lim)
			require.NoError(t, err)
			var derr error
			got := totalAlloc(func() { _, derr = decodeImage(ctx, sh.data, h, proveOpts) })
			require.NoError(t, derr)
			reserved := putBytes(h, len(sh.data)) + (&Cache{}).setupBytes(h.format, "") - int64(len(sh.data))
			t.Logf("prove   reserved %9d allocated %9d (%.2f)", reserved, got, float64(got)/float64(reserved))
			assert.LessOrEqual(t, got, reserved, "proving decode allocates more than Put reserves")
			for _, s := range append(allocSpecs[:len(allocSpecs):len(allocSpecs)], allocExtraSpecs[sh.name]...) {
				cs, err := s.canonical(lim, Info{Format: h.format, Width: h.width, Height: h.height}, h.alpha)
				require.NoError(t, err)
				// Reserved before the render, as a Get does: the first AVIF call in the
				// process reserves the module's set-up (codec.AVIFReady).
				reserved := (&Cache{}).renderNeed(h, cs, len(sh.data)) - int64(len(sh.data))
				var rerr error
				// Under a slot that grants a second goroutine: the resize's row
				// workers and a baseline JPEG decode's pipeline allocate too.
				got := totalAlloc(func() { _, rerr = render(withRowWorkers(ctx, 2), sh.data, h, cs) })
				require.NoError(t, rerr, cs.key())
				t.Logf("render  reserved %9d allocated %9d (%.2f) %s", reserved, got, float64(got)/float64(reserved), cs.key())
				assert.LessOrEqual(t, got, reserved, "%s: render allocates more than a Get miss reserves", cs.key())
			}
		})
	}
}
