package fastimagecache

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"testing"
)

// photoGIF is a w×h animation of n frames of a photo-like picture (Plan9 palette)
// panning a few pixels a frame.
func photoGIF(tb testing.TB, w, h, n int) []byte {
	pic := benchPhotoNRGBA(w+4*n, h)
	g := &gif.GIF{Config: image.Config{Width: w, Height: h, ColorModel: color.Palette(palette.Plan9)}}
	for i := range n {
		m := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
		draw.Draw(m, m.Rect, pic, image.Pt(4*i, 0), draw.Src)
		g.Image = append(g.Image, m)
		g.Delay = append(g.Delay, 10)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// BenchmarkGIFAnimation renders a 10-frame 480×360 photo-like animated GIF to GIF at
// 240 pixels wide.
func BenchmarkGIFAnimation(b *testing.B) {
	data := photoGIF(b, 480, 360, 10)
	lim := DefaultLimits()
	h, err := inspect(data, putConfig{}, lim)
	if err != nil {
		b.Fatal(err)
	}
	s, err := Spec{Width: 240, Format: GIF}.canonical(lim, Info{Format: h.format, Width: h.width, Height: h.height}, h.alpha)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := render(context.Background(), data, h, s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
