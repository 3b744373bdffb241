package fastimagecache

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	xwebp "golang.org/x/image/webp"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// decodeOutput decodes a rendition's bytes with a decoder independent of our encoder:
// x/image/webp for WebP, the codec's AVIF decoder for AVIF.
func decodeOutput(t testing.TB, f Format, b []byte) image.Image {
	t.Helper()
	img, _, err := DecodeRendition(f, b)
	require.NoError(t, err, "decode %s output", f)
	return img
}

// newFormatsCache is a Cache for the WebP and AVIF tests: the AVIF module is set up
// first (its first call compiles it, which on a busy machine or under the race detector
// can outlast a DecodeTimeout; TestAVIFFirstCallReserved covers that call), and renders
// get a deadline the race detector's slowed-down encoders fit in.
func newFormatsCache(t testing.TB) *Cache {
	t.Helper()
	if !codec.AVIFReady() {
		require.NoError(t, codec.EncodeAVIF(io.Discard, image.NewNRGBA(image.Rect(0, 0, 8, 8)), codec.AVIFOptions{Quality: 50, Speed: 10}))
	}
	return newTestCache(t, WithLimits(Limits{DecodeTimeout: 2 * time.Minute}))
}

// TestWebPAndAVIFOutputDecodeAtReportedSize renders an opaque JPEG and a PNG with
// transparency to WebP and AVIF, and decodes each output at the size the Rendition reports.
func TestWebPAndAVIFOutputDecodeAtReportedSize(t *testing.T) {
	c := newFormatsCache(t)
	ctx := context.Background()
	for _, in := range []struct {
		name string
		data []byte
	}{{"jpeg", fixture.JPEG(400, 300, 90)}, {"png-alpha", fixture.PNG(400, 300)}} {
		info := put(t, c, in.data)
		for _, f := range []Format{WebP, AVIF} {
			for _, s := range []Spec{{Width: 200, Format: f}, {Width: 120, Height: 120, Fit: Cover, Format: f, Quality: 1}, {Format: f, Quality: 100}} {
				r, err := c.Get(ctx, info.ID, s)
				require.NoError(t, err, "%s %+v", in.name, s)
				assert.Equal(t, "image/"+string(f), r.ContentType)
				b := readRendition(t, r)
				img := decodeOutput(t, f, b)
				assert.Equal(t, image.Rect(0, 0, r.Width, r.Height), img.Bounds().Sub(img.Bounds().Min), "%s %+v", in.name, s)
			}
		}
	}
}

// webpFrame is one frame of a WebP file as webpFrames finds it.
type webpFrame struct {
	img      image.Image
	duration int // milliseconds; 0 for a still
}

// webpFrames decodes every frame of a WebP file, still or animated, with x/image/webp
// (which reads stills only): an animation's ANMF chunks are rewrapped one by one as
// still files (VP8X, with the alpha flag when the frame has an ALPH chunk, then the
// frame's chunks).
// It also returns the canvas size and the loop count of an animation.
func webpFrames(b []byte) (frames []webpFrame, canvasW, canvasH, loops int, err error) {
	le24 := func(p []byte) int { return int(p[0]) | int(p[1])<<8 | int(p[2])<<16 }
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil, 0, 0, 0, fmt.Errorf("not a webp")
	}
	chunk := func(typ string, data []byte) []byte {
		out := append([]byte(typ), byte(len(data)), byte(len(data)>>8), byte(len(data)>>16), byte(len(data)>>24))
		out = append(out, data...)
		if len(data)%2 == 1 {
			out = append(out, 0)
		}
		return out
	}
	riff := func(body []byte) []byte {
		n := 4 + len(body)
		return append(append([]byte("RIFF"), byte(n), byte(n>>8), byte(n>>16), byte(n>>24)), append([]byte("WEBP"), body...)...)
	}
	animated := false
	for p := b[12:]; len(p) >= 8; {
		typ, n := string(p[:4]), int(binary.LittleEndian.Uint32(p[4:8]))
		if 8+n > len(p) {
			return nil, 0, 0, 0, fmt.Errorf("chunk %q past the end", typ)
		}
		data := p[8 : 8+n]
		p = p[min(len(p), 8+n+n%2):]
		switch typ {
		case "VP8X":
			animated = data[0]&0x02 != 0
			canvasW, canvasH = 1+le24(data[4:]), 1+le24(data[7:])
		case "ANIM":
			loops = int(binary.LittleEndian.Uint16(data[4:]))
		case "ANMF":
			w, h := 1+le24(data[6:]), 1+le24(data[9:])
			vp8x := make([]byte, 10)
			if bytes.Contains(data[16:min(len(data), 20)], []byte("ALPH")) {
				vp8x[0] = 0x10 // alpha
			}
			vp8x[4], vp8x[5], vp8x[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
			vp8x[7], vp8x[8], vp8x[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
			body := chunk("VP8X", vp8x)
			for q := data[16:]; len(q) >= 8; {
				sn := int(binary.LittleEndian.Uint32(q[4:8]))
				if 8+sn > len(q) {
					return nil, 0, 0, 0, fmt.Errorf("frame chunk past its ANMF")
				}
				body = append(body, chunk(string(q[:4]), q[8:8+sn])...)
				q = q[min(len(q), 8+sn+sn%2):]
			}
			img, err := xwebp.Decode(bytes.NewReader(riff(body)))
			if err != nil {
				return nil, 0, 0, 0, fmt.Errorf("frame %d: %w", len(frames), err)
			}
			frames = append(frames, webpFrame{img, le24(data[12:])})
		}
	}
	if !animated {
		img, err := xwebp.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, 0, 0, 0, err
		}
		bb := img.Bounds()
		return []webpFrame{{img: img}}, bb.Dx(), bb.Dy(), 0, nil
	}
	return frames, canvasW, canvasH, loops, nil
}

// DecodeRendition decodes a rendition's bytes in format f with a decoder other than our
// encoder (x/image/webp, frame by frame for an animated WebP; the codec's AVIF decoder)
// and returns its first frame and frame count. For the external tests.
func DecodeRendition(f Format, b []byte) (image.Image, int, error) {
	switch f {
	case WebP:
		frames, _, _, _, err := webpFrames(b)
		if err != nil {
			return nil, 0, err
		}
		return frames[0].img, len(frames), nil
	case AVIF:
		img, err := codec.DecodeAVIF(b)
		return img, 1, err
	}
	return nil, 0, fmt.Errorf("DecodeRendition: %s", f)
}

// animatedGIF is a w×h animation of n frames, each a different solid colour with a
// moving opaque square, frame i shown for (i+1)*10 hundredths of a second.
func animatedGIF(t testing.TB, w, h, n, loops int) []byte {
	pal := color.Palette{color.NRGBA{A: 255}, color.NRGBA{R: 255, A: 255}, color.NRGBA{G: 255, A: 255}, color.NRGBA{B: 255, A: 255}, color.NRGBA{R: 255, G: 255, B: 255, A: 255}}
	g := &gif.GIF{LoopCount: loops, Config: image.Config{Width: w, Height: h, ColorModel: pal}}
	for i := range n {
		m := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		for j := range m.Pix {
			m.Pix[j] = uint8(1 + i%3)
		}
		s := w / 4
		draw.Draw(m, image.Rect(i*s/2, i*s/2, i*s/2+s, i*s/2+s), image.NewUniform(pal[4]), image.Point{}, draw.Src)
		g.Image = append(g.Image, m)
		g.Delay = append(g.Delay, (i+1)*10)
	}
	var b bytes.Buffer
	require.NoError(t, gif.EncodeAll(&b, g))
	return b.Bytes()
}

// TestAnimatedGIFToWebPKeepsFrames: an animated GIF asked for as WebP becomes an animated
// WebP with every frame at the reported size, its delays (in milliseconds) and its loop
// count; asked for as AVIF (or JPEG) it becomes its first frame.
func TestAnimatedGIFToWebPKeepsFrames(t *testing.T) {
	c := newFormatsCache(t)
	ctx := context.Background()
	for _, loops := range []int{0, 2} {
		info := put(t, c, animatedGIF(t, 120, 90, 5, loops))
		r, err := c.Get(ctx, info.ID, Spec{Width: 60, Format: WebP})
		require.NoError(t, err)
		assert.Equal(t, "image/webp", r.ContentType)
		frames, cw, ch, gotLoops, err := webpFrames(readRendition(t, r))
		require.NoError(t, err)
		require.Len(t, frames, 5, "frames of the animated WebP")
		assert.Equal(t, [2]int{60, 45}, [2]int{r.Width, r.Height})
		assert.Equal(t, [2]int{r.Width, r.Height}, [2]int{cw, ch}, "canvas")
		for i, f := range frames {
			assert.Equal(t, (i+1)*100, f.duration, "frame %d delay", i)
			assert.Equal(t, image.Rect(0, 0, 60, 45), f.img.Bounds(), "frame %d", i)
		}
		// The first frame is red, the second green: the frames are the GIF's, in order.
		red, green := frames[0].img.At(55, 40), frames[1].img.At(55, 40)
		assert.Greater(t, channel(red, 0), 200, "frame 0 at (55,40): %v", red)
		assert.Greater(t, channel(green, 1), 200, "frame 1 at (55,40): %v", green)
		want := map[int]int{0: 0, 2: 3}[loops] // GIF: loop n+1 times; WebP: n times
		assert.Equal(t, want, gotLoops, "loop count for GIF LoopCount %d", loops)

		r, err = c.Get(ctx, info.ID, Spec{Width: 60, Format: AVIF})
		require.NoError(t, err)
		img := decodeOutput(t, AVIF, readRendition(t, r))
		assert.Equal(t, image.Rect(0, 0, 60, 45), img.Bounds())
		assert.Greater(t, channel(img.At(55, 40), 0), 200, "AVIF of an animation is its first (red) frame")
	}
}

// channel returns channel i (0 R, 1 G, 2 B, 3 A) of c, 8 bits, not premultiplied.
func channel(c color.Color, i int) int {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return int([4]uint8{n.R, n.G, n.B, n.A}[i])
}

// halfTransparentPNG is a w×h PNG whose left half is fully transparent (black, alpha 0)
// and right half opaque red.
func halfTransparentPNG(t testing.TB, w, h int) []byte {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(m, image.Rect(w/2, 0, w, h), image.NewUniform(color.NRGBA{R: 255, A: 255}), image.Point{}, draw.Src)
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, m))
	return b.Bytes()
}

// TestAlphaKeptInWebPAndAVIFNeverInJPEG: transparency survives to WebP and AVIF, and
// JPEG output is flattened onto white (a transparent black pixel never turns black).
func TestAlphaKeptInWebPAndAVIFNeverInJPEG(t *testing.T) {
	c := newFormatsCache(t)
	ctx := context.Background()
	info := put(t, c, halfTransparentPNG(t, 128, 64))
	for _, f := range []Format{WebP, AVIF} {
		r, err := c.Get(ctx, info.ID, Spec{Width: 64, Format: f})
		require.NoError(t, err)
		img := decodeOutput(t, f, readRendition(t, r))
		assert.LessOrEqual(t, channel(img.At(8, 16), 3), 8, "%s: transparent half keeps its alpha", f)
		assert.GreaterOrEqual(t, channel(img.At(56, 16), 3), 247, "%s: opaque half stays opaque", f)
		assert.Greater(t, channel(img.At(56, 16), 0), 200, "%s: opaque half stays red", f)
	}
	r, err := c.Get(ctx, info.ID, Spec{Width: 64, Format: JPEG})
	require.NoError(t, err)
	img, err := jpeg.Decode(bytes.NewReader(readRendition(t, r)))
	require.NoError(t, err)
	px := img.At(8, 16)
	for i := range 3 {
		assert.Greater(t, channel(px, i), 240, "JPEG: the transparent half is flattened onto white, got %v", px)
	}
}

// TestSpecQualityPerFormat: quality 0 takes the format's default, 1 and 100 are kept,
// anything else is refused; PNG and GIF drop it; the quality is part of the key; and it
// changes the bytes.
func TestSpecQualityPerFormat(t *testing.T) {
	lim := DefaultLimits()
	src := Info{Format: JPEG, Width: 800, Height: 600}
	for _, tc := range []struct {
		in   Spec
		want int
	}{
		{Spec{Format: WebP}, defaultWebPQuality},
		{Spec{Format: AVIF}, defaultAVIFQuality},
		{Spec{Format: JPEG}, defaultJPEGQuality},
		{Spec{Format: WebP, Quality: 1}, 1},
		{Spec{Format: AVIF, Quality: 100}, 100},
		{Spec{Format: PNG, Quality: 50}, 0},
		{Spec{Format: GIF, Quality: 50}, 0},
	} {
		got, err := tc.in.canonical(lim, src, false)
		require.NoError(t, err, "%+v", tc.in)
		assert.Equal(t, tc.want, got.Quality, "%+v", tc.in)
		assert.Equal(t, tc.in.Format, got.Format)
	}
	for _, s := range []Spec{{Format: WebP, Quality: 101}, {Format: AVIF, Quality: -1}, {Format: "jxl"}, {Format: BMP}, {Format: HEIC}} {
		_, err := s.canonical(lim, src, false)
		assert.ErrorIs(t, err, ErrInvalidSpec, "%+v", s)
	}
	keys := map[string]bool{}
	for _, s := range []Spec{{Format: WebP}, {Format: WebP, Quality: 81}, {Format: AVIF}, {Format: AVIF, Quality: 80}, {Format: JPEG, Quality: 80}} {
		cs, err := s.canonical(lim, src, false)
		require.NoError(t, err)
		keys[cs.key()] = true
	}
	assert.Len(t, keys, 5, "format and quality name the rendition")

	c := newFormatsCache(t)
	info := put(t, c, photoJPEG(t, 600, 400))
	for _, f := range []Format{WebP, AVIF} {
		size := func(q int) int64 {
			r, err := c.Get(context.Background(), info.ID, Spec{Width: 300, Format: f, Quality: q})
			require.NoError(t, err)
			r.Close()
			return r.Size
		}
		lo, def, hi := size(1), size(0), size(100)
		assert.Less(t, lo, def, "%s: quality 1 is smaller than the default", f)
		assert.Less(t, def, hi, "%s: quality 100 is larger than the default", f)
	}
}

// TestRenderChecksContextBeforeEncoder: the WebP and AVIF encoders cannot be interrupted,
// so a render whose context is done by the time its picture is ready returns without
// calling them.
func TestRenderChecksContextBeforeEncoder(t *testing.T) {
	data := fixture.JPEG(64, 48, 90)
	h, err := inspect(data, putConfig{}, DefaultLimits())
	require.NoError(t, err)
	dec, err := decodeImage(context.Background(), data, h, proveOpts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, f := range []Format{WebP, AVIF} {
		s, err := Spec{Width: 32, Format: f}.canonical(DefaultLimits(), Info{Format: JPEG, Width: 64, Height: 48}, false)
		require.NoError(t, err)
		out, err := renderDecoded(ctx, dec, h, s)
		assert.ErrorIs(t, err, context.Canceled, f)
		assert.Empty(t, out.data, f)
	}
}
