package codec

import (
	"bytes"
	"image"
	"image/color"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/image/webp"
)

// quadrants is a 64×64 image of four flat colours, of type RGBA or NRGBA.
func quadrants(nrgba bool) image.Image {
	cols := [4]color.NRGBA{{200, 30, 30, 255}, {30, 200, 30, 255}, {30, 30, 200, 255}, {220, 220, 40, 255}}
	r := image.Rect(0, 0, 64, 64)
	var m settable
	if nrgba {
		m = image.NewNRGBA(r)
	} else {
		m = image.NewRGBA(r)
	}
	for y := range 64 {
		for x := range 64 {
			m.Set(x, y, cols[2*(y/32)+x/32])
		}
	}
	return m
}

type settable interface {
	image.Image
	Set(x, y int, c color.Color)
	SubImage(image.Rectangle) image.Image
}

// TestEncodersReadSubImages: a crop of an RGBA or NRGBA image (a sub-image: rows a
// stride apart, bounds not at the origin) is encoded as its own pixels, by the AVIF and
// the WebP encoder, which copy Pix whole (see packed).
func TestEncodersReadSubImages(t *testing.T) {
	want := color.NRGBA{220, 220, 40, 255} // the bottom-right quadrant
	for _, nrgba := range []bool{false, true} {
		sub := quadrants(nrgba).(settable).SubImage(image.Rect(36, 36, 60, 60))
		for _, f := range []string{"avif", "webp"} {
			var buf bytes.Buffer
			var err error
			if f == "avif" {
				err = EncodeAVIF(&buf, sub, AVIFOptions{Quality: 80, Speed: 10})
			} else {
				err = EncodeWebP(&buf, sub, WebPOptions{Quality: 90})
			}
			require.NoError(t, err)
			var got image.Image
			if f == "avif" {
				got, err = DecodeAVIF(buf.Bytes())
			} else {
				got, err = webp.Decode(&buf)
			}
			require.NoError(t, err)
			require.Equal(t, sub.Bounds().Size(), got.Bounds().Size())
			b := got.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					c := color.NRGBAModel.Convert(got.At(x, y)).(color.NRGBA)
					for i, d := range []int{int(c.R) - int(want.R), int(c.G) - int(want.G), int(c.B) - int(want.B)} {
						if d > 24 || d < -24 {
							t.Fatalf("%s of a %T sub-image: pixel (%d, %d) channel %d is %v, want %v", f, sub, x, y, i, c, want)
						}
					}
				}
			}
		}
	}
}

// TestWebPGetsUnpremultipliedColours: the WebP encoder reads an RGBA's samples as
// unpremultiplied, so a half-transparent red stored premultiplied (128, 0, 0, 128) must
// reach it as (255, 0, 0, 128), not come out a dark red.
func TestWebPGetsUnpremultipliedColours(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for i := 0; i < len(m.Pix); i += 4 {
		copy(m.Pix[i:i+4], []byte{128, 0, 0, 128})
	}
	var buf bytes.Buffer
	require.NoError(t, EncodeWebP(&buf, m, WebPOptions{Quality: 95}))
	got, err := webp.Decode(&buf)
	require.NoError(t, err)
	c := color.NRGBAModel.Convert(got.At(16, 16)).(color.NRGBA)
	require.InDelta(t, 255, int(c.R), 24, "red, unpremultiplied: %v", c)
	require.InDelta(t, 128, int(c.A), 8, "alpha: %v", c)
}
