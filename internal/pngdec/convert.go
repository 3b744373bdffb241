package pngdec

// convFunc converts one unfiltered row of width pixels into dst (width×bpp
// bytes of the output layout) and returns the converted row: dst, or cdat
// itself when the row is already in the output layout.
type convFunc func(dst, cdat []byte, width int) []byte

// grayRow returns a row of 8-bit gray samples: cdat itself at depth 8,
// else unpacked and scaled into scratch.
func (d *decoder) grayRow(scratch, cdat []byte, width int) []byte {
	if d.info.Depth == 8 {
		return cdat[:width]
	}
	unpack(scratch, cdat, width, d.info.Depth, grayMult(d.info.Depth))
	return scratch[:width]
}

// indexRow returns a row of 8-bit palette indices.
func (d *decoder) indexRow(scratch, cdat []byte, width int) []byte {
	if d.info.Depth == 8 {
		return cdat[:width]
	}
	unpack(scratch, cdat, width, d.info.Depth, 1)
	return scratch[:width]
}

// key16 is the 16-bit tRNS sample i (0 gray or red, 1 green, 2 blue).
func (d *decoder) key16(i int) uint16 {
	return uint16(d.transparent[2*i])<<8 | uint16(d.transparent[2*i+1])
}

// streamConverter returns the converter to the streamed layout (8 bits per
// sample, 16-bit samples reduced to their high byte, palettes expanded).
func (d *decoder) streamConverter() (Layout, convFunc) {
	lay := d.layout()
	w := d.info.Width
	scratch := make([]byte, 0)
	if d.info.Depth < 8 {
		scratch = make([]byte, w)
	}
	ty := d.transparent[1]
	switch {
	case d.info.ColorType == ctGray && d.info.Depth <= 8 && !d.useTransparent:
		return lay, func(_, cdat []byte, width int) []byte { return d.grayRow(scratch, cdat, width) }
	case d.info.ColorType == ctGray && d.info.Depth <= 8:
		return lay, func(dst, cdat []byte, width int) []byte {
			g := d.grayRow(scratch, cdat, width)
			for x, v := range g {
				a := byte(0xff)
				if v == ty {
					a = 0
				}
				dst[2*x], dst[2*x+1] = v, a
			}
			return dst[:2*width]
		}
	case d.info.ColorType == ctPaletted:
		var table [256][4]byte
		for i := range table {
			if i < d.np {
				copy(table[i][:3], d.plte[i][:])
			}
			table[i][3] = 0xff
			if i < d.ntrns {
				table[i][3] = d.alpha[i]
			}
		}
		if lay == RGB {
			return lay, func(dst, cdat []byte, width int) []byte {
				idx := d.indexRow(scratch, cdat, width)
				dst = dst[:3*width]
				for x, v := range idx {
					t := &table[v]
					o := dst[3*x : 3*x+3 : 3*x+3]
					o[0], o[1], o[2] = t[0], t[1], t[2]
				}
				return dst
			}
		}
		return lay, func(dst, cdat []byte, width int) []byte {
			idx := d.indexRow(scratch, cdat, width)
			dst = dst[:4*width]
			for x, v := range idx {
				copy(dst[4*x:4*x+4], table[v][:])
			}
			return dst
		}
	case d.info.Depth == 8 && d.info.ColorType == ctTrueColor && d.useTransparent:
		tr, tg, tb := d.transparent[1], d.transparent[3], d.transparent[5]
		return lay, func(dst, cdat []byte, width int) []byte {
			dst = dst[:4*width]
			for x := range width {
				s := cdat[3*x : 3*x+3 : 3*x+3]
				o := dst[4*x : 4*x+4 : 4*x+4]
				o[0], o[1], o[2], o[3] = s[0], s[1], s[2], 0xff
				if s[0] == tr && s[1] == tg && s[2] == tb {
					o[3] = 0
				}
			}
			return dst
		}
	case d.info.Depth == 8:
		// GA8, TC8, TCA8: the row is already in the layout.
		n := lay.BytesPerPixel()
		return lay, func(_, cdat []byte, width int) []byte { return cdat[:n*width] }
	case d.useTransparent: // 16-bit gray or truecolour with a colour key
		ch := d.channels()
		var key [3]uint16
		for i := range ch {
			key[i] = d.key16(i)
		}
		return lay, func(dst, cdat []byte, width int) []byte {
			dst = dst[:(ch+1)*width]
			for x := range width {
				s := cdat[2*ch*x : 2*ch*(x+1)]
				o := dst[(ch+1)*x : (ch+1)*(x+1)]
				hit := true
				for i := range ch {
					o[i] = s[2*i]
					hit = hit && uint16(s[2*i])<<8|uint16(s[2*i+1]) == key[i]
				}
				o[ch] = 0xff
				if hit {
					o[ch] = 0
				}
			}
			return dst
		}
	default: // 16-bit without colour key: the high bytes
		return lay, func(dst, cdat []byte, width int) []byte {
			n := width * lay.BytesPerPixel()
			dst = dst[:n]
			for i := range dst {
				dst[i] = cdat[2*i]
			}
			return dst
		}
	}
}
