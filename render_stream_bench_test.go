package fastimagecache

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// benchPNGs are a 3000×2000 RGBA photo (a real photo from /work/bench-photos or
// ./bench-photos when there is one, with a soft alpha vignette; else smooth noise) and
// a 2560×1440 screenshot (flat UI panels, text-like strokes), encoded by image/png.
func benchPNGs(b *testing.B) map[string][]byte {
	const w, h = 3000, 2000
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 1))
	var src image.Image
	for _, dir := range []string{"/work/bench-photos", "bench-photos"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
		for _, f := range files {
			data, err := os.ReadFile(f) // #nosec G304 -- benchmark input
			if err != nil {
				continue
			}
			if img, err := jpeg.Decode(bytes.NewReader(data)); err == nil && img.Bounds().Dx() >= w && img.Bounds().Dy() >= h {
				src = img
				break
			}
		}
		if src != nil {
			break
		}
	}
	if src != nil {
		draw.Draw(m, m.Rect, src, src.Bounds().Min, draw.Src)
	}
	for y := range h {
		for x := range w {
			i := m.PixOffset(x, y)
			if src == nil {
				m.Pix[i], m.Pix[i+1], m.Pix[i+2] = byte(x/12+rng.IntN(9)), byte(y/8+rng.IntN(9)), byte((x+y)/20+rng.IntN(9))
			}
			dx, dy := float64(2*x-w)/w, float64(2*y-h)/h
			m.Pix[i+3] = byte(255 - 60*min(1, (dx*dx+dy*dy)/2))
		}
	}
	sw, sh := 2560, 1440
	s := image.NewRGBA(image.Rect(0, 0, sw, sh))
	ui := []color.RGBA{{250, 250, 250, 255}, {32, 33, 36, 255}, {66, 133, 244, 255}, {241, 243, 244, 255}, {255, 255, 255, 255}}
	draw.Draw(s, s.Rect, image.NewUniform(ui[0]), image.Point{}, draw.Src)
	for range 60 {
		x, y := rng.IntN(sw), rng.IntN(sh)
		draw.Draw(s, image.Rect(x, y, x+100+rng.IntN(800), y+20+rng.IntN(400)), image.NewUniform(ui[rng.IntN(len(ui))]), image.Point{}, draw.Src)
	}
	for line := 0; line < sh; line += 22 {
		for x := 20 + rng.IntN(200); x < sw-10; x += 8 + rng.IntN(3) {
			for range 4 {
				gx, gy := x+rng.IntN(7), line+4+rng.IntN(12)
				for i := range 1 + rng.IntN(8) {
					if rng.IntN(2) == 0 {
						s.SetRGBA(gx, min(sh-1, gy+i), color.RGBA{20, 20, 20, 255})
					} else {
						s.SetRGBA(min(sw-1, gx+i), gy, color.RGBA{20, 20, 20, 255})
					}
				}
			}
		}
	}
	enc := func(img image.Image) []byte {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			b.Fatal(err)
		}
		return buf.Bytes()
	}
	return map[string][]byte{"photo3000x2000": enc(m), "screen2560x1440": enc(s)}
}

// BenchmarkRenderPNG320 renders PNG -> 320 px PNG three ways: streamed (render: pngdec
// rows into resize.Rows), full (pngdec.Decode, then the resize), imagepng (image/png's
// Decode, then the same resize: the path before pngdec). cpu-ns/op is the process's
// CPU time per render (GC included), steadier than wall time on a shared machine.
func BenchmarkRenderPNG320(b *testing.B) {
	inputs := benchPNGs(b)
	lim := DefaultLimits()
	ctx := context.Background()
	for _, name := range []string{"photo3000x2000", "screen2560x1440"} {
		data := inputs[name]
		h, err := inspect(data, putConfig{}, lim)
		if err != nil {
			b.Fatal(err)
		}
		s, err := Spec{Width: 320, Format: PNG}.canonical(lim, Info{Format: h.format, Width: h.width, Height: h.height}, h.alpha)
		if err != nil {
			b.Fatal(err)
		}
		ways := map[string]func() error{
			"streamed": func() error { _, err := render(ctx, data, h, s); return err },
			"full": func() error {
				dec, err := decodeImage(ctx, data, h, renderOpts(h, s))
				if err == nil {
					_, err = renderDecoded(ctx, dec, h, s)
				}
				return err
			},
			"imagepng": func() error {
				img, err := png.Decode(bytes.NewReader(data))
				if err == nil {
					_, err = renderDecoded(ctx, decoded{img: img}, h, s)
				}
				return err
			},
		}
		for _, way := range []string{"imagepng", "full", "streamed"} {
			f := ways[way]
			b.Run(name+"/"+way, func(b *testing.B) {
				b.ReportAllocs()
				start := processCPU()
				for b.Loop() {
					if err := f(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
