package fastimagecache

import (
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/thumbhash"
)

// samplerImages are images of every type nrgbaSampler reads directly, and one it does
// not (CMYK), filled with generated pixels including partial and zero alpha.
func samplerImages() map[string]image.Image {
	const w, h = 37, 23
	r := image.Rect(3, -2, 3+w, -2+h) // an origin off zero, as sub-images have
	v := func(x, y, c int) uint8 { return uint8(noise8(x*7+c, y*13+c*31)) }
	nrgba := image.NewNRGBA(r)
	rgba := image.NewRGBA(r)
	rgba64 := image.NewRGBA64(r)
	nrgba64 := image.NewNRGBA64(r)
	gray := image.NewGray(r)
	gray16 := image.NewGray16(r)
	cmyk := image.NewCMYK(r)
	pal := color.Palette{}
	for i := range 200 {
		a := uint8(i * 37)
		if i%5 == 0 {
			a = 255
		}
		pal = append(pal, color.NRGBA{uint8(i), uint8(255 - i), uint8(i * 3), a})
	}
	pal[7] = color.RGBA{10, 20, 30, 40} // premultiplied entries convert too
	paletted := image.NewPaletted(r, pal)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			a := v(x, y, 3)
			switch x % 4 {
			case 0:
				a = 0
			case 1:
				a = 255
			}
			nrgba.SetNRGBA(x, y, color.NRGBA{v(x, y, 0), v(x, y, 1), v(x, y, 2), a})
			rgba.Set(x, y, color.NRGBA{v(x, y, 0), v(x, y, 1), v(x, y, 2), a})
			rgba64.Set(x, y, color.NRGBA64{uint16(v(x, y, 0)) * 257, uint16(v(x, y, 1)) * 251, uint16(v(x, y, 2)) * 255, uint16(a)*256 + uint16(v(x, y, 4))})
			nrgba64.SetNRGBA64(x, y, color.NRGBA64{uint16(v(x, y, 0)) * 257, uint16(v(x, y, 1)) * 251, uint16(v(x, y, 2)) * 255, uint16(a)*256 + uint16(v(x, y, 4))})
			gray.SetGray(x, y, color.Gray{v(x, y, 0)})
			gray16.SetGray16(x, y, color.Gray16{uint16(v(x, y, 0))*256 + uint16(v(x, y, 1))})
			cmyk.SetCMYK(x, y, color.CMYK{v(x, y, 0), v(x, y, 1), v(x, y, 2), v(x, y, 3)})
			paletted.SetColorIndex(x, y, v(x, y, 5)%uint8(len(pal)))
		}
	}
	imgs := map[string]image.Image{
		"nrgba": nrgba, "rgba": rgba, "rgba64": rgba64, "nrgba64": nrgba64, "gray": gray,
		"gray16": gray16, "cmyk": cmyk, "paletted": paletted,
	}
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		y := image.NewYCbCr(r, ratio)
		a := image.NewNYCbCrA(r, ratio)
		for i := range y.Y {
			y.Y[i], a.Y[i] = uint8(noise8(i, 1)), uint8(noise8(i, 1))
		}
		for i := range y.Cb {
			y.Cb[i], y.Cr[i] = uint8(noise8(i, 2)), uint8(noise8(i, 3))
			a.Cb[i], a.Cr[i] = y.Cb[i], y.Cr[i]
		}
		for i := range a.A {
			a.A[i] = uint8(noise8(i, 4))
			if i%3 == 0 {
				a.A[i] = 255
			}
		}
		imgs["ycbcr"+ratio.String()] = y
		imgs["nycbcra"+ratio.String()] = a
	}
	return imgs
}

// TestNRGBASamplerMatchesAt checks that the placeholder's direct pixel reads give, for
// every image type, exactly what color.NRGBAModel.Convert(img.At(x, y)) gives.
func TestNRGBASamplerMatchesAt(t *testing.T) {
	for name, img := range samplerImages() {
		at := nrgbaSampler(img)
		b := img.Bounds()
		bad := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				want := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				if got := at(x, y); got != want && bad < 3 {
					bad++
					t.Errorf("%s (%d,%d): got %v, want %v", name, x, y, got, want)
				}
			}
		}
	}
}

// TestNRGBASamplerPaletteOverflow checks that an index past the palette fails as At
// does (a panic, which the decode's recovery turns into ErrCorrupt), not as a colour.
func TestNRGBASamplerPaletteOverflow(t *testing.T) {
	p := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.Black})
	p.Pix[1] = 5
	at := nrgbaSampler(p)
	if got := at(0, 0); got != (color.NRGBA{0, 0, 0, 255}) {
		t.Errorf("in-palette pixel: %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("index past the palette read as a colour; want At's panic")
		}
	}()
	at(1, 0)
}

// TestPlaceholderAllocations checks that a placeholder of the decoders' image types does
// not box a colour per pixel read: tens of thousands of reads, under 100 allocations in
// all (the copy, its orientation and the hash).
func TestPlaceholderAllocations(t *testing.T) {
	r420 := image.YCbCrSubsampleRatio420.String()
	for _, name := range []string{"nrgba", "rgba", "paletted", "gray", "ycbcr" + r420, "nycbcra" + r420} {
		img := samplerImages()[name]
		allocs := testing.AllocsPerRun(5, func() {
			if _, err := placeholderOf(img, 1); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 100 {
			t.Errorf("%s: %.0f allocations per placeholder, want at most 100", name, allocs)
		}
	}
}

// refPlaceholder is placeholderOf as it was before its direct pixel reads: every sample
// through At and color.NRGBAModel, every position computed where it is read.
func refPlaceholder(img image.Image, o int) (placeholder, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	long := max(w, h)
	sw := max(1, int(math.Round(float64(placeholderSide*w)/float64(long))))
	sh := max(1, int(math.Round(float64(placeholderSide*h)/float64(long))))
	small := image.NewNRGBA(image.Rect(0, 0, sw, sh))
	var sumR, sumG, sumB, sumA float64
	for y := range sh {
		for x := range sw {
			var r, g, bl, a uint32
			for j := range placeholderSamples {
				sy := b.Min.Y + ((2*y*placeholderSamples+2*j+1)*h)/(2*sh*placeholderSamples)
				for i := range placeholderSamples {
					sx := b.Min.X + ((2*x*placeholderSamples+2*i+1)*w)/(2*sw*placeholderSamples)
					c := color.NRGBAModel.Convert(img.At(sx, sy)).(color.NRGBA)
					r += uint32(c.R)
					g += uint32(c.G)
					bl += uint32(c.B)
					a += uint32(c.A)
				}
			}
			const n = placeholderSamples * placeholderSamples
			c := color.NRGBA{uint8((r + n/2) / n), uint8((g + n/2) / n), uint8((bl + n/2) / n), uint8((a + n/2) / n)}
			small.SetNRGBA(x, y, c)
			wa := float64(c.A)
			sumR += wa * float64(c.R)
			sumG += wa * float64(c.G)
			sumB += wa * float64(c.B)
			sumA += wa
		}
	}
	oriented := orient(small, o).(*image.NRGBA)
	hash, err := thumbhash.Encode(oriented.Rect.Dx(), oriented.Rect.Dy(), oriented.Pix)
	if err != nil {
		return placeholder{}, err
	}
	p := placeholder{hash: base64.StdEncoding.EncodeToString(hash)}
	if sumA > 0 {
		p.color = fmt.Sprintf("#%02x%02x%02x", uint8(math.Round(sumR/sumA)), uint8(math.Round(sumG/sumA)), uint8(math.Round(sumB/sumA)))
	}
	return p, nil
}

// TestPlaceholderUnchanged checks that placeholders are what they were before the direct
// pixel reads, bit for bit, for every image type, size class and orientation: stored
// metadata and new Puts agree.
func TestPlaceholderUnchanged(t *testing.T) {
	imgs := samplerImages()
	imgs["big-paletted"] = photoGIFFrame(640, 360)
	imgs["tall-nrgba"] = image.NewNRGBA(image.Rect(0, 0, 7, 450))
	for name, img := range imgs {
		for _, o := range []int{1, 6} {
			got, err := placeholderOf(img, o)
			require.NoError(t, err)
			want, err := refPlaceholder(img, o)
			require.NoError(t, err)
			assert.Equal(t, want, got, "%s, orientation %d", name, o)
		}
	}
}

// photoGIFFrame is photoLike quantised to a 216-colour palette.
func photoGIFFrame(w, h int) *image.Paletted {
	p := image.NewPaletted(image.Rect(0, 0, w, h), paletteWebSafe())
	draw.FloydSteinberg.Draw(p, p.Bounds(), photoLike(w, h), image.Point{})
	return p
}

// BenchmarkPlaceholder times the placeholder of a Put's proving decode (a 2000×1500
// JPEG at 1/8 is 250×188 YCbCr; a 400×300 GIF frame is Paletted), now ("direct") and
// through At as before ("at").
func BenchmarkPlaceholder(b *testing.B) {
	y := image.NewYCbCr(image.Rect(0, 0, 250, 188), image.YCbCrSubsampleRatio420)
	for i := range y.Y {
		y.Y[i] = uint8(noise8(i, 1))
	}
	for _, c := range []struct {
		name string
		img  image.Image
	}{{"ycbcr-250x188", y}, {"paletted-400x300", photoGIFFrame(400, 300)}, {"nrgba-1600x1200", photoNRGBA(1600, 1200)}} {
		b.Run(c.name+"/direct", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = placeholderOf(c.img, 1)
			}
		})
		b.Run(c.name+"/at", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = refPlaceholder(c.img, 1)
			}
		})
	}
}

func photoNRGBA(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(m, m.Bounds(), photoLike(w, h), image.Point{}, draw.Src)
	return m
}

// paletteWebSafe is the 216 web-safe colours.
func paletteWebSafe() color.Palette {
	p := make(color.Palette, 0, 216)
	for r := range 6 {
		for g := range 6 {
			for b := range 6 {
				p = append(p, color.RGBA{uint8(51 * r), uint8(51 * g), uint8(51 * b), 255}) // #nosec G115 -- at most 255
			}
		}
	}
	return p
}
