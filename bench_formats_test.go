package fastimagecache

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/codec"
)

// photoLike is a w×h picture with the statistics of a photograph rather than of a test
// pattern: a smooth sky gradient, soft-edged shapes, a band of fine texture (foliage)
// and a little sensor noise, so that encoders spend on it what they spend on photos.
func photoLike(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	type blob struct{ cx, cy, r, cr, cg, cb float64 }
	blobs := []blob{{0.3, 0.55, 0.18, 200, 60, 40}, {0.7, 0.45, 0.25, 40, 120, 60}, {0.55, 0.8, 0.12, 230, 210, 90}}
	for y := range h {
		fy := float64(y) / float64(h)
		for x := range w {
			fx := float64(x) / float64(w)
			r, g, b := 90+100*fy, 140+60*fy, 230-80*fy // sky
			for _, o := range blobs {
				d := math.Hypot(fx-o.cx, (fy-o.cy)*float64(h)/float64(w)) / o.r
				if a := 1 / (1 + math.Exp(12*(d-1))); a > 0.01 {
					r, g, b = r+(o.cr-r)*a, g+(o.cg-g)*a, b+(o.cb-b)*a
				}
			}
			if fy > 0.7 { // foliage: texture at a few pixels' scale
				t := 25 * math.Sin(float64(x)*0.9+3*math.Sin(float64(y)*0.31)) * math.Sin(float64(y)*0.7+float64(x)*0.05)
				r, g, b = r*0.5+t, g*0.7+t+30, b*0.3+t
			}
			n := float64(noise8(x, y)%7) - 3
			m.SetRGBA(x, y, color.RGBA{clamp8(r + n), clamp8(g + n), clamp8(b + n), 255})
		}
	}
	return m
}

func noise8(x, y int) uint32 {
	n := uint32(x)*374761393 + uint32(y)*668265263
	n = (n ^ n>>13) * 1274126177
	return n ^ n>>16
}

func clamp8(v float64) uint8 { return uint8(max(0, min(255, math.Round(v)))) }

// photoJPEG is photoLike as a quality-90 JPEG, as a camera or an upload tool writes it.
func photoJPEG(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, photoLike(w, h), &jpeg.Options{Quality: 90}))
	return b.Bytes()
}

// BenchmarkGetFormats times a cold Get (a Spec never asked before: decode, resize,
// encode, store) of a 3000×2000 photo-like JPEG to each output format at its default
// quality and effort, 320 and 1280 px wide, and reports the output's size. A warm-up Get
// runs first, so ns/op is the steady cost; the AVIF module set-up the first call pays
// is measured by TestMeasureEncoders and TestAVIFFirstCallReserved.
func BenchmarkGetFormats(b *testing.B) {
	src := photoJPEG(b, 3000, 2000)
	ctx := context.Background()
	for _, width := range []int{320, 1280} {
		for _, f := range []Format{JPEG, WebP, AVIF} {
			b.Run(fmt.Sprintf("%s/%d", f, width), func(b *testing.B) {
				c := newTestCache(b, WithMemoryCache(-1))
				id := put(b, c, src).ID
				get := func(i int) int64 {
					// Contain in width×(width+i): the same output, a new key.
					r, err := c.Get(ctx, id, Spec{Width: width, Height: width + i, Format: f})
					if err != nil {
						b.Fatal(err)
					}
					r.Close()
					return r.Size
				}
				if f == AVIF && !codec.AVIFReady() { // the module set-up can outlast DecodeTimeout on a busy machine
					require.NoError(b, codec.EncodeAVIF(io.Discard, image.NewNRGBA(image.Rect(0, 0, 8, 8)), codec.AVIFOptions{Quality: 50, Speed: 10}))
				}
				get(0) // warm-up: first allocations
				var size int64
				i := 1
				for b.Loop() {
					size = get(i)
					i++
				}
				b.ReportMetric(float64(size), "bytes")
			})
		}
	}
}

// BenchmarkEncodeEffort times the WebP and AVIF encoders alone on a resized photo-like
// picture at each effort setting, with output bytes: the table the defaults were chosen
// from (webpMethod, avifSpeed).
func BenchmarkEncodeEffort(b *testing.B) {
	photo := photoLike(3000, 2000)
	for _, width := range []int{320, 1280} {
		img := transform(photo, header{width: 3000, height: 2000, orientation: 1}, Spec{Width: width})
		b.Run(fmt.Sprintf("jpeg/%d", width), func(b *testing.B) {
			benchEncode(b, img, Spec{Format: JPEG, Quality: defaultJPEGQuality}, nil)
		})
		for m := 0; m <= 6; m++ {
			b.Run(fmt.Sprintf("webp-m%d/%d", m, width), func(b *testing.B) {
				benchEncode(b, img, Spec{}, func(w *bytes.Buffer) error {
					return codec.EncodeWebP(w, img, codec.WebPOptions{Quality: defaultWebPQuality, Method: m})
				})
			})
		}
		for sp := 6; sp <= 10; sp++ {
			b.Run(fmt.Sprintf("avif-s%d/%d", sp, width), func(b *testing.B) {
				benchEncode(b, img, Spec{}, func(w *bytes.Buffer) error {
					return codec.EncodeAVIF(w, img, codec.AVIFOptions{Quality: defaultAVIFQuality, Speed: sp})
				})
			})
		}
	}
}

func benchEncode(b *testing.B, img image.Image, s Spec, enc func(*bytes.Buffer) error) {
	if enc == nil {
		enc = func(w *bytes.Buffer) error { return encode(w, img, s) }
	}
	var w bytes.Buffer
	require.NoError(b, enc(&w)) // warm-up
	for b.Loop() {
		w.Reset()
		if err := enc(&w); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(w.Len()), "bytes")
}
