package inflate

import (
	"bytes"
	"compress/zlib"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// benchStreams are zlib streams of PNG-like data: the IDAT payload of a
// generated 1500×1000 photo-like RGBA image (smooth gradients plus noise)
// and of a 1280×800 screenshot-like image (flat panels, text-like strokes),
// as image/png encodes them.
func benchStreams() map[string][]byte {
	rng := rand.New(rand.NewPCG(5, 5))
	photo := image.NewNRGBA(image.Rect(0, 0, 1500, 1000))
	for y := range 1000 {
		for x := range 1500 {
			i := photo.PixOffset(x, y)
			photo.Pix[i] = byte(x/12 + rng.IntN(9))
			photo.Pix[i+1] = byte(y/8 + rng.IntN(9))
			photo.Pix[i+2] = byte((x+y)/20 + rng.IntN(9))
			photo.Pix[i+3] = 255
		}
	}
	screen := image.NewRGBA(image.Rect(0, 0, 1280, 800))
	ui := []color.RGBA{{250, 250, 250, 255}, {32, 33, 36, 255}, {66, 133, 244, 255}, {255, 255, 255, 255}}
	for y := range 800 {
		for x := range 1280 {
			c := ui[(x/200+y/150)%len(ui)]
			if y%22 > 4 && y%22 < 16 && rng.IntN(4) == 0 {
				c = color.RGBA{20, 20, 20, 255}
			}
			screen.SetRGBA(x, y, c)
		}
	}
	m := map[string][]byte{"photo": idat(photo), "screen": idat(screen)}
	if real := realPhoto(); real != nil {
		m["realphoto"] = idat(real)
	}
	return m
}

// realPhoto is the first photo of /work/bench-photos or ../../bench-photos
// (scripts/fetch-photos.sh) at least 2000×1500, cropped to that, or nil.
func realPhoto() image.Image {
	for _, dir := range []string{"/work/bench-photos", "../../bench-photos"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
		for _, f := range files {
			b, err := os.ReadFile(f) // #nosec G304 -- benchmark input
			if err != nil {
				continue
			}
			img, err := jpeg.Decode(bytes.NewReader(b))
			if err != nil || img.Bounds().Dx() < 2000 || img.Bounds().Dy() < 1500 {
				continue
			}
			m := image.NewRGBA(image.Rect(0, 0, 2000, 1500))
			draw.Draw(m, m.Rect, img, img.Bounds().Min, draw.Src)
			return m
		}
	}
	return nil
}

// idat returns the concatenated IDAT payloads of m encoded by image/png.
func idat(m image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		panic(err)
	}
	p := b.Bytes()[8:]
	var z []byte
	for len(p) >= 12 {
		n := int(p[0])<<24 | int(p[1])<<16 | int(p[2])<<8 | int(p[3])
		if string(p[4:8]) == "IDAT" {
			z = append(z, p[8:8+n]...)
		}
		p = p[12+n:]
	}
	return z
}

func BenchmarkInflate(b *testing.B) {
	streams := benchStreams()
	for _, name := range []string{"photo", "screen", "realphoto"} {
		z, ok := streams[name]
		if !ok {
			continue
		}
		want, err := reference(z)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 6001)
		b.Run(name+"/flate", func(b *testing.B) {
			b.SetBytes(int64(len(want)))
			defer reportCPU(b)()
			r, _ := zlib.NewReader(bytes.NewReader(z))
			for b.Loop() {
				if err := r.(zlib.Resetter).Reset(bytes.NewReader(z), nil); err != nil {
					b.Fatal(err)
				}
				drain(b, r, buf)
			}
		})
		b.Run(name+"/inflate", func(b *testing.B) {
			b.SetBytes(int64(len(want)))
			defer reportCPU(b)()
			d := NewDecoder(nil)
			for b.Loop() {
				rest := z
				d.Reset(func() ([]byte, error) {
					if len(rest) == 0 {
						return nil, io.EOF
					}
					p := rest[:min(len(rest), 8192)]
					rest = rest[len(p):]
					return p, nil
				})
				drain(b, d, buf)
			}
		})
	}
}

func drain(b *testing.B, r io.Reader, buf []byte) {
	for {
		_, err := r.Read(buf)
		if err == io.EOF {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU reports the process CPU time per op when the returned func runs.
func reportCPU(b *testing.B) func() {
	start := processCPUTime()
	return func() { b.ReportMetric(float64(processCPUTime()-start)/float64(b.N), "cpu-ns/op") }
}

func BenchmarkAdler32(b *testing.B) {
	p := make([]byte, 64<<10)
	fill(rand.New(rand.NewPCG(1, 1)), p)
	b.SetBytes(int64(len(p)))
	defer reportCPU(b)()
	for b.Loop() {
		adler32(1, p)
	}
}
