package resize

import (
	"image"
	"image/color"
)

// interleaved scales the colour image types other than YCbCr and Gray as interleaved
// 8-bit samples: four a pixel (R, G, B and A premultiplied by alpha, the form in which
// filtering does not bleed the colour of transparent pixels into their neighbours) or
// one for Gray16. A source not stored that way (non-premultiplied, paletted, 16-bit,
// CMYK, YCbCr with alpha) is converted a row at a time as the filter reads it, never as
// a whole-image copy; 16-bit samples keep their high byte, as imaging does.
func interleaved(src image.Image, dw, dh, o int) (image.Image, bool) {
	b := src.Bounds()
	if b.Empty() || (b.Dx() == dw && b.Dy() == dh) {
		return src, false
	}
	p, premultiplied, ok := interleavedSource(src)
	if !ok {
		return src, false
	}
	return finish(orient(scalePlane(p, dw, dh), o), premultiplied), true
}

// interleavedSource describes src as a plane the filter can read and says whether its
// colours were stored premultiplied.
func interleavedSource(src image.Image) (p plane, premultiplied, ok bool) {
	r := src.Bounds()
	w, h := r.Dx(), r.Dy()
	switch m := src.(type) {
	case *image.RGBA:
		return newPlaneCh(m.Pix, m.Stride, w, h, 4, m.PixOffset(r.Min.X, r.Min.Y)), true, true
	case *image.NRGBA:
		off := m.PixOffset(r.Min.X, r.Min.Y)
		p = convPlane(w, h, 4, func(y int, dst []byte) {
			o := off + y*m.Stride
			premultiplyRow(dst, m.Pix[o:o+4*w])
		})
		return p, false, true
	case *image.Paletted:
		if len(m.Palette) == 0 {
			return p, false, false
		}
		var table [256][4]byte // indices past the palette read as transparent
		for i, c := range m.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			table[i] = [4]byte{premul(n.R, n.A), premul(n.G, n.A), premul(n.B, n.A), n.A}
		}
		off := m.PixOffset(r.Min.X, r.Min.Y)
		p = convPlane(w, h, 4, func(y int, dst []byte) {
			o := off + y*m.Stride
			for x, i := range m.Pix[o : o+w] {
				copy(dst[4*x:4*x+4], table[i][:])
			}
		})
		return p, false, true
	case *image.RGBA64:
		off := m.PixOffset(r.Min.X, r.Min.Y)
		p = convPlane(w, h, 4, func(y int, dst []byte) {
			o := off + y*m.Stride
			in := m.Pix[o : o+8*w]
			for i := range dst {
				dst[i] = in[2*i]
			}
		})
		return p, true, true
	case *image.NRGBA64:
		off := m.PixOffset(r.Min.X, r.Min.Y)
		p = convPlane(w, h, 4, func(y int, dst []byte) {
			o := off + y*m.Stride
			in := m.Pix[o : o+8*w]
			for x := 0; x < len(dst); x += 4 {
				a := in[2*x+6]
				dst[x], dst[x+1], dst[x+2], dst[x+3] = premul(in[2*x], a), premul(in[2*x+2], a), premul(in[2*x+4], a), a
			}
		})
		return p, false, true
	case *image.Gray16:
		off := m.PixOffset(r.Min.X, r.Min.Y)
		p = convPlane(w, h, 1, func(y int, dst []byte) {
			o := off + y*m.Stride
			in := m.Pix[o : o+2*w]
			for i := range dst {
				dst[i] = in[2*i]
			}
		})
		return p, true, true
	case *image.CMYK:
		off := m.PixOffset(r.Min.X, r.Min.Y)
		p = convPlane(w, h, 4, func(y int, dst []byte) {
			o := off + y*m.Stride
			in := m.Pix[o : o+4*w]
			for x := 0; x < len(dst); x += 4 {
				dst[x], dst[x+1], dst[x+2] = color.CMYKToRGB(in[x], in[x+1], in[x+2], in[x+3])
				dst[x+3] = 255
			}
		})
		return p, true, true
	case *image.NYCbCrA:
		if _, _, ok := chroma(r, m.SubsampleRatio); !ok {
			return p, false, false
		}
		p = convPlane(w, h, 4, func(y int, dst []byte) {
			sy := r.Min.Y + y
			for x := range w {
				sx := r.Min.X + x
				ci := m.COffset(sx, sy)
				cr, cg, cb := color.YCbCrToRGB(m.Y[m.YOffset(sx, sy)], m.Cb[ci], m.Cr[ci])
				a := m.A[m.AOffset(sx, sy)]
				dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = premul(cr, a), premul(cg, a), premul(cb, a), a
			}
		})
		return p, false, true
	}
	return p, false, false
}

// convPlane is a w×h plane of ch samples a pixel whose rows conv produces.
func convPlane(w, h, ch int, conv func(y int, dst []byte)) plane {
	p := newPlaneCh(nil, w*ch, w, h, ch, 0)
	p.conv = conv
	return p
}

// premul returns c·a/255 rounded to nearest (exact for all bytes).
func premul(c, a byte) byte {
	t := uint32(c)*uint32(a) + 128
	return byte((t + t>>8) >> 8) // #nosec G115 -- c·a/255 <= 255
}

// premultiplyRow converts non-premultiplied RGBA samples to premultiplied.
func premultiplyRow(dst, in []byte) {
	in = in[:len(dst)]
	for x := 0; x+4 <= len(dst); x += 4 {
		a := in[x+3]
		switch a {
		case 255:
			copy(dst[x:x+4], in[x:x+4])
		case 0:
			dst[x], dst[x+1], dst[x+2], dst[x+3] = 0, 0, 0, 0
		default:
			dst[x], dst[x+1], dst[x+2], dst[x+3] = premul(in[x], a), premul(in[x+1], a), premul(in[x+2], a), a
		}
	}
}

// finish turns a filtered plane into an image: Gray for one sample a pixel; for four,
// RGBA when the source was premultiplied or the result is opaque, else NRGBA. Filter
// overshoot can leave a premultiplied colour above its alpha: it is clamped first.
func finish(p plane, premultiplied bool) image.Image {
	rect := image.Rect(0, 0, p.w, p.h)
	if p.ch == 1 {
		return &image.Gray{Pix: p.pix, Stride: p.stride, Rect: rect}
	}
	pix := p.pix[:p.h*p.stride]
	opaque := true
	for x := 0; x+4 <= len(pix); x += 4 {
		a := pix[x+3]
		if a == 255 {
			continue
		}
		opaque = false
		pix[x], pix[x+1], pix[x+2] = min(pix[x], a), min(pix[x+1], a), min(pix[x+2], a)
	}
	if premultiplied || opaque {
		return &image.RGBA{Pix: p.pix, Stride: p.stride, Rect: rect}
	}
	unpremultiply(pix)
	return &image.NRGBA{Pix: p.pix, Stride: p.stride, Rect: rect}
}

// unpremultiply converts premultiplied RGBA samples (colour <= alpha) in place to
// non-premultiplied, rounding to nearest.
func unpremultiply(pix []byte) {
	for x := 0; x+4 <= len(pix); x += 4 {
		a := uint32(pix[x+3])
		switch a {
		case 255:
		case 0:
			pix[x], pix[x+1], pix[x+2] = 0, 0, 0
		default:
			for c := x; c < x+3; c++ {
				pix[c] = byte((uint32(pix[c])*255 + a/2) / a) // #nosec G115 -- pix[c] <= a, so the quotient is <= 255
			}
		}
	}
}

// horizontal4 filters one row of four-sample pixels.
func horizontal4(out, in []byte, t taps) {
	n := t.n
	for x := 0; x+4 <= len(out); x += 4 {
		v := x / 4
		w := t.w[v*n : v*n+n]
		s := 4 * t.start[v]
		win := in[s : s+4*n]
		var r, g, b, a int32
		for i, k := range w {
			px := win[4*i : 4*i+4 : 4*i+4]
			k := int32(k)
			r += k * int32(px[0])
			g += k * int32(px[1])
			b += k * int32(px[2])
			a += k * int32(px[3])
		}
		out[x], out[x+1], out[x+2], out[x+3] = clamp(r), clamp(g), clamp(b), clamp(a)
	}
}

// horizontalN filters one row of ch-sample pixels (ch <= 4).
func horizontalN(out, in []byte, t taps, ch int) {
	n := t.n
	for x := 0; x+ch <= len(out); x += ch {
		v := x / ch
		w := t.w[v*n : v*n+n]
		s := ch * t.start[v]
		var acc [4]int32
		for i, k := range w {
			px := in[s+ch*i : s+ch*i+ch]
			for c, sample := range px {
				acc[c] += int32(k) * int32(sample)
			}
		}
		for c := range ch {
			out[x+c] = clamp(acc[c])
		}
	}
}

// orientN is orient for pixels of p.ch samples.
func orientN(p plane, o int) plane {
	w, h, st, ch := p.w, p.h, p.stride, p.ch
	var base, dx, dy int
	switch o {
	case 2:
		base, dx, dy = (w-1)*ch, -ch, st
	case 3:
		base, dx, dy = (h-1)*st+(w-1)*ch, -ch, -st
	case 4:
		base, dx, dy = (h-1)*st, ch, -st
	case 5:
		base, dx, dy = 0, st, ch
	case 6:
		base, dx, dy = (h-1)*st, -st, ch
	case 7:
		base, dx, dy = (h-1)*st+(w-1)*ch, -st, -ch
	case 8:
		base, dx, dy = (w-1)*ch, st, -ch
	default:
		return p
	}
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := newPlaneCh(make([]byte, ow*oh*ch), ow*ch, ow, oh, ch, 0)
	base += p.offsetPix
	for y := range oh {
		row := out.pix[y*out.stride : y*out.stride+ow*ch]
		i := base + y*dy
		for x := 0; x < len(row); x += ch {
			copy(row[x:x+ch], p.pix[i:i+ch])
			i += dx
		}
	}
	return out
}
