package fastimagecache

import (
	"image"
	"image/color"
	"testing"
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
