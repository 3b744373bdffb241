package fastimagecache

import (
	"image"
	"image/color"
)

// nrgbaSampler returns a function reading the pixel of img at (x, y) as
// color.NRGBAModel.Convert(img.At(x, y)) does, bit for bit, but for the image types the
// decoders return without boxing a colour per pixel: img.At allocates for most of them,
// and a placeholder reads tens of thousands of pixels. Other types go through At.
func nrgbaSampler(img image.Image) func(x, y int) color.NRGBA {
	switch m := img.(type) {
	case *image.NRGBA:
		return m.NRGBAAt
	case *image.RGBA:
		return func(x, y int) color.NRGBA { return nrgbaOf(m.RGBAAt(x, y).RGBA()) }
	case *image.Paletted:
		// The palette converted once; an index past it goes through At, which panics as
		// before (the caller's recovery turns that into ErrCorrupt).
		var pal [256]color.NRGBA
		for i := range min(len(m.Palette), len(pal)) {
			pal[i] = color.NRGBAModel.Convert(m.Palette[i]).(color.NRGBA)
		}
		n := len(m.Palette)
		return func(x, y int) color.NRGBA {
			i := int(m.ColorIndexAt(x, y))
			if i >= n {
				return color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
			}
			return pal[i]
		}
	case *image.YCbCr:
		return func(x, y int) color.NRGBA { return nrgbaOf(m.YCbCrAt(x, y).RGBA()) }
	case *image.NYCbCrA:
		return func(x, y int) color.NRGBA { return nrgbaOf(m.NYCbCrAAt(x, y).RGBA()) }
	case *image.Gray:
		return func(x, y int) color.NRGBA { v := m.GrayAt(x, y).Y; return color.NRGBA{v, v, v, 0xff} }
	case *image.Gray16:
		return func(x, y int) color.NRGBA { return nrgbaOf(m.Gray16At(x, y).RGBA()) }
	case *image.RGBA64:
		return func(x, y int) color.NRGBA { return nrgbaOf(m.RGBA64At(x, y).RGBA()) }
	case *image.NRGBA64:
		return func(x, y int) color.NRGBA { return nrgbaOf(m.NRGBA64At(x, y).RGBA()) }
	}
	return func(x, y int) color.NRGBA { return color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA) }
}

// nrgbaOf is color.NRGBAModel's conversion of a colour whose RGBA method returned r, g,
// b, a (alpha-premultiplied, 16 bits, r, g, b <= a: so every value below is at most
// 0xffff, and its top byte what the conversion keeps).
func nrgbaOf(r, g, b, a uint32) color.NRGBA {
	switch a {
	case 0xffff:
		return color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 0xff} // #nosec G115 -- 16-bit values: r>>8 < 256
	case 0:
		return color.NRGBA{}
	}
	r = (r * 0xffff) / a
	g = (g * 0xffff) / a
	b = (b * 0xffff) / a
	return color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)} // #nosec G115 -- 16-bit values (r <= a <= 0xffff): >>8 < 256
}
