package resize

import (
	"image"
	"image/color"
	"testing"
)

// FuzzImage feeds the resizer planes and interleaved images (RGBA, NRGBA, Paletted,
// 16-bit, CMYK, NYCbCrA) of any size, layout, subsampling and orientation, to
// any target size: it must never panic or read outside the planes, the result has the
// asked size (axes swapped for orientations 5–8), and the same size at orientation 1 is
// the identity.
func FuzzImage(f *testing.F) {
	f.Add(uint16(640), uint16(480), uint16(320), uint16(240), uint8(2), uint8(1), uint8(0), uint8(0), []byte{1, 2, 3})
	f.Add(uint16(1), uint16(1), uint16(7), uint16(3), uint8(0), uint8(6), uint8(1), uint8(1), []byte{9})
	f.Add(uint16(33), uint16(17), uint16(33), uint16(17), uint8(5), uint8(1), uint8(3), uint8(2), []byte{})
	f.Add(uint16(2000), uint16(3), uint16(5), uint16(3), uint8(1), uint8(8), uint8(0), uint8(0), []byte{255, 0})
	for k := uint8(7); k < 14; k++ {
		f.Add(uint16(301), uint16(203), uint16(40), uint16(27), k, k%9, uint8(1), uint8(2), []byte{7, 0, 255, 3})
		f.Add(uint16(3), uint16(2), uint16(9), uint16(5), k, uint8(6), uint8(0), uint8(3), []byte{128})
	}
	f.Fuzz(func(t *testing.T, sw, sh, dw, dh uint16, kind, o, x0, y0 uint8, seed []byte) {
		w, h := int(sw)%1200+1, int(sh)%1200+1
		tw, th := int(dw)%700+1, int(dh)%700+1
		r := image.Rect(int(x0)%5, int(y0)%5, int(x0)%5+w, int(y0)%5+h)
		fill := func(p []byte) {
			for i := range p {
				if len(seed) > 0 {
					p[i] = seed[i%len(seed)] ^ byte(i*31)
				}
			}
		}
		var src image.Image
		ratios := []image.YCbCrSubsampleRatio{
			image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
			image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
		}
		full := image.Rect(0, 0, r.Max.X, r.Max.Y)
		interleavedKind := true
		switch k := int(kind) % 14; k {
		case 6:
			g := image.NewGray(full)
			fill(g.Pix)
			src = g.SubImage(r)
			interleavedKind = false
		case 7:
			m := image.NewRGBA(full)
			fill(m.Pix)
			src = m.SubImage(r)
		case 8:
			m := image.NewNRGBA(full)
			fill(m.Pix)
			src = m.SubImage(r)
		case 9:
			// a short palette: indices past it must read as something, never panic
			m := image.NewPaletted(full, color.Palette{color.Transparent, color.NRGBA{200, 10, 30, 128}, color.White})
			fill(m.Pix)
			src = m.SubImage(r)
		case 10:
			m := image.NewNRGBA64(full)
			fill(m.Pix)
			src = m.SubImage(r)
		case 11:
			m := image.NewRGBA64(full)
			fill(m.Pix)
			src = m.SubImage(r)
		case 12:
			m := image.NewCMYK(full)
			fill(m.Pix)
			src = m.SubImage(r)
		case 13:
			m := image.NewNYCbCrA(full, ratios[int(x0)%len(ratios)])
			fill(m.Y)
			fill(m.Cb)
			fill(m.Cr)
			fill(m.A)
			src = m.SubImage(r)
		default:
			interleavedKind = false
			m := image.NewYCbCr(image.Rect(0, 0, r.Max.X, r.Max.Y), ratios[k])
			fill(m.Y)
			fill(m.Cb)
			fill(m.Cr)
			src = m.SubImage(r)
		}
		orientation := int(o) % 10                                       // 0 and 9 are not orientations: treated as 1
		got, ok := ImageWorkers(src, tw, th, orientation, 1+int(o)/10%3) // large ones split their rows
		if interleavedKind && tw == w && th == h {
			// the same size is left to the caller, untouched
			if ok || got != src {
				t.Fatal("same-size interleaved image not returned as it is")
			}
			return
		}
		if !ok {
			t.Fatal("image refused")
		}
		want := image.Pt(tw, th)
		if orientation >= 5 && orientation <= 8 {
			want = image.Pt(th, tw)
		}
		if got.Bounds() != (image.Rectangle{Max: want}) {
			t.Fatalf("bounds %v, want size %v", got.Bounds(), want)
		}
		if g, ok := src.(*image.Gray); ok && tw == w && th == h && (orientation < 2 || orientation > 8) {
			out := got.(*image.Gray)
			for y := range h {
				for x := range w {
					if out.GrayAt(x, y) != g.GrayAt(r.Min.X+x, r.Min.Y+y) {
						t.Fatalf("same size changed sample (%d, %d)", x, y)
					}
				}
			}
		}
	})
}
