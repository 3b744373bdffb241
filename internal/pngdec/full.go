package pngdec

import (
	"image"
	"image/color"
)

// Decode decodes a whole PNG file into the image image/png.Decode would
// return: the same type (Gray, Gray16, RGBA, RGBA64, NRGBA, NRGBA64 or
// Paletted), pixels and palette. It fails wherever image/png fails.
func Decode(data []byte, o Options) (image.Image, error) {
	d := &decoder{data: data, opts: o}
	var img image.Image
	maxIdx := -1
	err := d.parseChunks(false, func() error {
		if err := d.checkSize(); err != nil {
			return err
		}
		if err := d.checkCtx(0); err != nil { // before the pixels are allocated
			return err
		}
		var pix []byte
		var stride, bpp int
		img, pix, stride, bpp = d.newImage()
		conv := d.fullConverter(&maxIdx)
		var tmp []byte
		if d.info.Interlaced {
			tmp = make([]byte, d.info.Width*bpp)
		}
		return d.inflate(func(pass, y, pw int, cdat []byte) error {
			if !d.info.Interlaced {
				conv(pix[y*stride:y*stride+pw*bpp], cdat, pw)
				return nil
			}
			scatter(pix, stride, bpp, conv(tmp, cdat, pw), pass, y, pw)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if p, ok := img.(*image.Paletted); ok {
		p.Palette = d.colorPalette(maxIdx)
	}
	return img, nil
}

// scatter writes the row y of an interlace pass into the full image.
func scatter(pix []byte, stride, bpp int, row []byte, pass, y, pw int) {
	p := adam7[pass]
	base := (y*p.yf+p.yo)*stride + p.xo*bpp
	step := p.xf * bpp
	for x := range pw {
		copy(pix[base+x*step:base+x*step+bpp], row[x*bpp:x*bpp+bpp])
	}
}

// newImage allocates the image image/png would, and returns its pixels,
// stride and bytes per pixel.
func (d *decoder) newImage() (image.Image, []byte, int, int) {
	r := image.Rect(0, 0, d.info.Width, d.info.Height)
	d16 := d.info.Depth == 16
	switch ct := d.info.ColorType; {
	case ct == ctPaletted:
		m := image.NewPaletted(r, nil)
		return m, m.Pix, m.Stride, 1
	case ct == ctGray && !d16 && !d.useTransparent:
		m := image.NewGray(r)
		return m, m.Pix, m.Stride, 1
	case ct == ctTrueColor && !d16 && !d.useTransparent:
		m := image.NewRGBA(r)
		return m, m.Pix, m.Stride, 4
	case !d16:
		m := image.NewNRGBA(r)
		return m, m.Pix, m.Stride, 4
	case ct == ctGray && !d.useTransparent:
		m := image.NewGray16(r)
		return m, m.Pix, m.Stride, 2
	case ct == ctTrueColor && !d.useTransparent:
		m := image.NewRGBA64(r)
		return m, m.Pix, m.Stride, 8
	default:
		m := image.NewNRGBA64(r)
		return m, m.Pix, m.Stride, 8
	}
}

// colorPalette is image/png's palette: PLTE entries as color.RGBA, those
// with a tRNS alpha as color.NRGBA, extended (black, opaque) to cover the
// largest index used.
func (d *decoder) colorPalette(maxIdx int) color.Palette {
	n := max(d.np, d.ntrns, maxIdx+1)
	p := make(color.Palette, n)
	for i := range p {
		c := d.plte[i]
		if i < d.ntrns {
			p[i] = color.NRGBA{c[0], c[1], c[2], d.alpha[i]}
		} else {
			p[i] = color.RGBA{c[0], c[1], c[2], 0xff}
		}
	}
	return p
}

// fullConverter converts rows to the pixel layout of newImage's image.
func (d *decoder) fullConverter(maxIdx *int) convFunc {
	w := d.info.Width
	var scratch []byte
	if d.info.Depth < 8 {
		scratch = make([]byte, w)
	}
	ty := d.transparent[1]
	d16 := d.info.Depth == 16
	switch ct := d.info.ColorType; {
	case ct == ctPaletted:
		return func(dst, cdat []byte, width int) []byte {
			idx := d.indexRow(scratch, cdat, width)
			m := *maxIdx
			for _, v := range idx {
				m = max(m, int(v))
			}
			*maxIdx = m
			copy(dst, idx)
			return dst
		}
	case ct == ctGray && !d16:
		if !d.useTransparent {
			return func(dst, cdat []byte, width int) []byte {
				copy(dst, d.grayRow(scratch, cdat, width))
				return dst
			}
		}
		return func(dst, cdat []byte, width int) []byte {
			for x, v := range d.grayRow(scratch, cdat, width) {
				a := byte(0xff)
				if v == ty {
					a = 0
				}
				o := dst[4*x : 4*x+4 : 4*x+4]
				o[0], o[1], o[2], o[3] = v, v, v, a
			}
			return dst
		}
	case ct == ctGrayAlpha && !d16:
		return func(dst, cdat []byte, width int) []byte {
			for x := range width {
				o := dst[4*x : 4*x+4 : 4*x+4]
				v := cdat[2*x]
				o[0], o[1], o[2], o[3] = v, v, v, cdat[2*x+1]
			}
			return dst
		}
	case ct == ctTrueColor && !d16:
		tr, tg, tb := d.transparent[1], d.transparent[3], d.transparent[5]
		key := d.useTransparent
		return func(dst, cdat []byte, width int) []byte {
			for x := range width {
				s := cdat[3*x : 3*x+3 : 3*x+3]
				o := dst[4*x : 4*x+4 : 4*x+4]
				o[0], o[1], o[2], o[3] = s[0], s[1], s[2], 0xff
				if key && s[0] == tr && s[1] == tg && s[2] == tb {
					o[3] = 0
				}
			}
			return dst
		}
	case ct == ctTrueAlpha && !d16:
		return func(dst, cdat []byte, _ int) []byte { copy(dst, cdat); return dst }
	case ct == ctGray && !d.useTransparent, ct == ctTrueAlpha:
		// Gray16 and NRGBA64 store the samples as PNG does.
		return func(dst, cdat []byte, _ int) []byte { copy(dst, cdat); return dst }
	}
	// 16-bit GA, or gray/truecolour with or without a key, to (N)RGBA64.
	ch := d.channels()
	gray := ch <= 2
	hasAlpha := ch == 2
	key := [3]uint16{d.key16(0), d.key16(1), d.key16(2)}
	useKey := d.useTransparent
	return func(dst, cdat []byte, width int) []byte {
		for x := range width {
			s := cdat[2*ch*x : 2*ch*(x+1)]
			o := dst[8*x : 8*x+8 : 8*x+8]
			if gray {
				o[0], o[1], o[2], o[3], o[4], o[5] = s[0], s[1], s[0], s[1], s[0], s[1]
			} else {
				copy(o[:6], s[:6])
			}
			o[6], o[7] = 0xff, 0xff
			if hasAlpha {
				o[6], o[7] = s[2], s[3]
			} else if useKey {
				hit := uint16(s[0])<<8|uint16(s[1]) == key[0]
				if !gray {
					hit = hit && uint16(s[2])<<8|uint16(s[3]) == key[1] && uint16(s[4])<<8|uint16(s[5]) == key[2]
				}
				if hit {
					o[6], o[7] = 0, 0
				}
			}
		}
		return dst
	}
}
