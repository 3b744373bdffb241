package pngdec

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The benchmark inputs are generated: a 3000×2000 RGBA photo (a real
// photo from /work/bench-photos or ./bench-photos when there is one, else
// smooth noise) with a soft alpha vignette, and a 2560×1440 screenshot (flat
// UI panels, text-like strokes), both encoded by image/png at the default
// level.
var benchInputs = sync.OnceValue(func() map[string][]byte {
	return map[string][]byte{"photo3000x2000": photoPNG(3000, 2000), "screen2560x1440": screenPNG(2560, 1440)}
})

func encodePNG(m image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func photoPNG(w, h int) []byte {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	var src image.Image
	for _, dir := range []string{"/work/bench-photos", "../../bench-photos"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
		for _, f := range files {
			b, err := os.ReadFile(f) // #nosec G304 -- benchmark input
			if err != nil {
				continue
			}
			img, err := jpeg.Decode(bytes.NewReader(b))
			if err == nil && img.Bounds().Dx() >= w && img.Bounds().Dy() >= h {
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
	} else {
		rng := rand.New(rand.NewPCG(1, 1))
		for y := range h {
			for x := range w {
				i := m.PixOffset(x, y)
				m.Pix[i] = byte(x/12 + rng.IntN(9))
				m.Pix[i+1] = byte(y/8 + rng.IntN(9))
				m.Pix[i+2] = byte((x+y)/20 + rng.IntN(9))
			}
		}
	}
	for y := range h {
		for x := range w {
			dx, dy := float64(2*x-w)/float64(w), float64(2*y-h)/float64(h)
			m.Pix[m.PixOffset(x, y)+3] = byte(255 - 60*min(1, (dx*dx+dy*dy)/2))
		}
	}
	return encodePNG(m)
}

func screenPNG(w, h int) []byte {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(2, 2))
	ui := []color.RGBA{{250, 250, 250, 255}, {32, 33, 36, 255}, {66, 133, 244, 255}, {241, 243, 244, 255}, {255, 255, 255, 255}}
	draw.Draw(m, m.Rect, image.NewUniform(ui[0]), image.Point{}, draw.Src)
	for range 60 { // panels
		x, y := rng.IntN(w), rng.IntN(h)
		r := image.Rect(x, y, x+100+rng.IntN(800), y+20+rng.IntN(400))
		draw.Draw(m, r, image.NewUniform(ui[rng.IntN(len(ui))]), image.Point{}, draw.Src)
	}
	ink := color.RGBA{20, 20, 20, 255}
	for line := 0; line < h; line += 22 { // text lines of glyph-like strokes
		x := 20 + rng.IntN(200)
		end := x + rng.IntN(w-x)
		for ; x < end-8; x += 8 + rng.IntN(3) {
			for range 4 {
				gx, gy := x+rng.IntN(7), line+4+rng.IntN(12)
				if rng.IntN(2) == 0 {
					for i := range 1 + rng.IntN(10) {
						m.SetRGBA(gx, min(h-1, gy+i), ink)
					}
				} else {
					for i := range 1 + rng.IntN(6) {
						m.SetRGBA(min(w-1, gx+i), gy, ink)
					}
				}
			}
		}
	}
	return encodePNG(m)
}

func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"photo3000x2000", "screen2560x1440"} {
		data := benchInputs()[name]
		b.Run(name+"/imagepng", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			defer reportCPU(b)()
			for b.Loop() {
				if _, err := png.Decode(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/full", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			defer reportCPU(b)()
			for b.Loop() {
				if _, err := Decode(data, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/stream", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			defer reportCPU(b)()
			for b.Loop() {
				err := Stream(data, Options{}, func(Info) error { return nil }, func(int, []byte) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// reportCPU reports the process CPU time per op when the returned func runs.
func reportCPU(b *testing.B) func() {
	start := processCPUTime()
	return func() { b.ReportMetric(float64(processCPUTime()-start)/float64(b.N), "cpu-ns/op") }
}

func BenchmarkPaeth(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, bpp := range []int{3, 4} {
		cdat, pdat := make([]byte, 3000*bpp), make([]byte, 3000*bpp)
		fill(rng, pdat)
		for name, f := range map[string]func([]byte, []byte, int){"new": paeth, "imagepng": paethRef} {
			b.Run(fmt.Sprint(bpp, "/", name), func(b *testing.B) {
				b.SetBytes(int64(len(cdat)))
				defer reportCPU(b)()
				for b.Loop() {
					f(cdat, pdat, bpp)
				}
			})
		}
	}
}
