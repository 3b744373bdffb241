package fastimagecache

import (
	"image"
	"image/color"
	"image/color/palette"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/disintegration/imaging"
)

// benchPhotoNRGBA returns a w×h photo-like picture (gradients, hard edges, noise) with an
// alpha channel that is opaque over most of the picture, fades at one side and is fully
// transparent in a corner.
func benchPhotoNRGBA(w, h int) *image.NRGBA {
	rng := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			i := m.PixOffset(x, y)
			base := 60*math.Sin(float64(x)/37) + 40*math.Cos(float64(y)/23)
			if (x/97+y/61)%2 == 0 {
				base += 40
			}
			for c := range 3 {
				v := 110 + base*float64(c+1)/2 + rng.NormFloat64()*6
				m.Pix[i+c] = uint8(min(max(v, 0), 255))
			}
			a := 255
			if x > w*3/4 {
				a = 255 - (x-w*3/4)*255/(w/4+1)
			}
			if x < w/8 && y < h/8 {
				a = 0
			}
			m.Pix[i+3] = uint8(a)
		}
	}
	return m
}

func benchTransformImages(w, h int) map[string]image.Image {
	n := benchPhotoNRGBA(w, h)
	rgba := image.NewRGBA(n.Rect)
	pal := image.NewPaletted(n.Rect, palette.Plan9)
	for y := range h {
		for x := range w {
			c := n.NRGBAAt(x, y)
			rgba.Set(x, y, c)
			c.A = 255
			pal.Set(x, y, c)
		}
	}
	pal.Palette[0] = color.Transparent
	return map[string]image.Image{"NRGBA": n, "RGBA": rgba, "Paletted": pal}
}

// BenchmarkTransform measures the resize and orientation of a decoded 3000×2000 picture
// of each non-JPEG type to 320 and 1280 pixels wide: transform (the library's path) and
// imaging.Resize (the path before resize took these types), interleaved. cpu-ns/op is
// the process's CPU time (imaging spreads one resize over every core).
func BenchmarkTransform(b *testing.B) {
	imgs := benchTransformImages(3000, 2000)
	for _, kind := range []string{"RGBA", "NRGBA", "Paletted"} {
		for _, width := range []int{320, 1280} {
			src := imgs[kind]
			h := header{format: PNG, width: 3000, height: 2000, orientation: 1, alpha: true}
			s := Spec{Width: width, Format: PNG}
			for _, path := range []string{"transform", "imaging"} {
				b.Run(kind+"/"+itoa(width)+"/"+path, func(b *testing.B) {
					b.ReportAllocs()
					cpu0 := cpuTime()
					for b.Loop() {
						if path == "imaging" {
							_ = imaging.Resize(src, width, width*2/3, imaging.Lanczos)
						} else {
							_ = transform(src, h, s)
						}
					}
					b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
				})
			}
		}
	}
}

// cpuTime is the CPU time (user and system) the process has used, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
