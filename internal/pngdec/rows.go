package pngdec

import "io"

// adam7 is the geometry of the seven interlace passes.
var adam7 = [7]struct{ xf, yf, xo, yo int }{
	{8, 8, 0, 0}, {8, 8, 4, 0}, {4, 8, 0, 4}, {4, 4, 2, 0}, {2, 4, 0, 2}, {2, 2, 1, 0}, {1, 2, 0, 1},
}

// passSize is the size of an interlace pass (0×0 when the pass is empty).
func passSize(w, h, pass int) (int, int) {
	p := adam7[pass]
	pw := (w - p.xo + p.xf - 1) / p.xf
	ph := (h - p.yo + p.yf - 1) / p.yf
	if pw <= 0 || ph <= 0 {
		return 0, 0
	}
	return pw, ph
}

func (d *decoder) channels() int {
	switch d.info.ColorType {
	case ctTrueColor:
		return 3
	case ctGrayAlpha:
		return 2
	case ctTrueAlpha:
		return 4
	}
	return 1
}

// rowBytes is the size of one filtered row of width w, filter byte excluded.
func (d *decoder) rowBytes(w int) int {
	return (d.info.Depth*d.channels()*w + 7) / 8
}

// rowFunc receives each unfiltered row (filter byte removed) of a pass: y
// is the row within the pass, pw the pass width. Non-interlaced images are
// one pass 0 of the full size.
type rowFunc func(pass, y, pw int, cdat []byte) error

// inflate reads the zlib stream of the IDAT chunks, unfilters each row and
// hands it to emit; then it requires the stream to end (Adler-32 checked)
// right there, as image/png does. It allocates two rows and an inflater.
func (d *decoder) inflate(emit rowFunc) error {
	s := d.newIdat()
	zr := s.dec
	defer func() {
		zr.Reset(nil)
		inflaters.Put(zr)
	}()

	bitsPP := d.info.Depth * d.channels()
	bpp := (bitsPP + 7) / 8
	full := 1 + d.rowBytes(d.info.Width)
	buf := make([]byte, 2*full)
	cr, pr := buf[:full], buf[full:]
	rows := 0
	passes := 1
	if d.info.Interlaced {
		passes = 7
	}
	for pass := range passes {
		pw, ph := d.info.Width, d.info.Height
		if d.info.Interlaced {
			pw, ph = passSize(pw, ph, pass)
			if pw == 0 {
				continue
			}
		}
		n := 1 + d.rowBytes(pw)
		cr, pr = cr[:n], pr[:n]
		clear(pr)
		for y := range ph {
			if err := d.checkCtx(rows); err != nil {
				return err
			}
			rows++
			if _, err := io.ReadFull(zr, cr); err != nil {
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					return formatErr("not enough pixel data")
				}
				return err
			}
			if err := unfilter(cr[0], cr[1:], pr[1:], bpp); err != nil {
				return err
			}
			if err := emit(pass, y, pw, cr[1:]); err != nil {
				return err
			}
			cr, pr = pr, cr
		}
	}
	// The stream must end here: one more byte is too much pixel data.
	var one [1]byte
	var n int
	var err error
	for i := 0; n == 0 && err == nil; i++ {
		if i == 100 {
			return io.ErrNoProgress
		}
		n, err = zr.Read(one[:])
	}
	if err != nil && err != io.EOF {
		return formatErr(err.Error())
	}
	if n != 0 {
		return formatErr("too much pixel data")
	}
	return s.verdict()
}

// unfilter undoes the row filter ft in place; pdat is the previous
// (unfiltered) row, zero for the first.
func unfilter(ft byte, cdat, pdat []byte, bpp int) error {
	pdat = pdat[:len(cdat)]
	switch ft {
	case 0:
	case 1:
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += cdat[i-bpp]
		}
	case 2:
		for i, p := range pdat {
			cdat[i] += p
		}
	case 3:
		for i := 0; i < bpp && i < len(cdat); i++ {
			cdat[i] += pdat[i] / 2
		}
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += uint8((int(cdat[i-bpp]) + int(pdat[i])) / 2) // #nosec G115 -- the mean of two bytes is a byte
		}
	case 4:
		paeth(cdat, pdat, bpp)
	default:
		return formatErr("bad filter type")
	}
	return nil
}

func abs(x int) int {
	m := x >> 63
	return (x ^ m) - m
}

// paeth undoes the Paeth filter in place. The predictor is chosen without
// branches (the compiler turns the two selects into conditional moves),
// which a photo's unpredictable choices need; ties go to a, then b, as the
// spec and image/png's filterPaeth.
func paeth(cdat, pdat []byte, bpp int) {
	switch bpp {
	case 3:
		paeth3(cdat, pdat)
		return
	case 4:
		paeth4(cdat, pdat)
		return
	}
	for i := 0; i < bpp; i++ {
		a, c := 0, 0
		for j := i; j < len(cdat); j += bpp {
			b := int(pdat[j])
			a = (paethPredict(a, b, c) + int(cdat[j])) & 0xff
			cdat[j] = uint8(a) // #nosec G115 -- masked to a byte
			c = b
		}
	}
}

// paethPredict is the Paeth predictor of a (left), b (up) and c (up-left).
func paethPredict(a, b, c int) int {
	pa := b - c
	pb := a - c
	pc := abs(pa + pb)
	pa = abs(pa)
	pb = abs(pb)
	p, best := a, pa
	if pb < best {
		p, best = b, pb
	}
	if pc < best {
		p = c
	}
	return p
}

// paeth4 is paeth for 4 bytes per pixel, the four channels interleaved so
// that their dependency chains overlap.
func paeth4(cdat, pdat []byte) {
	var a0, a1, a2, a3, c0, c1, c2, c3 int
	for j := 0; j+4 <= len(cdat); j += 4 {
		cd := cdat[j : j+4 : j+4]
		pd := pdat[j : j+4 : j+4]
		b0, b1, b2, b3 := int(pd[0]), int(pd[1]), int(pd[2]), int(pd[3])
		a0 = (paethPredict(a0, b0, c0) + int(cd[0])) & 0xff
		a1 = (paethPredict(a1, b1, c1) + int(cd[1])) & 0xff
		a2 = (paethPredict(a2, b2, c2) + int(cd[2])) & 0xff
		a3 = (paethPredict(a3, b3, c3) + int(cd[3])) & 0xff
		cd[0], cd[1], cd[2], cd[3] = uint8(a0), uint8(a1), uint8(a2), uint8(a3) // #nosec G115 -- masked to bytes
		c0, c1, c2, c3 = b0, b1, b2, b3
	}
}

// paeth3 is paeth4 for 3 bytes per pixel.
func paeth3(cdat, pdat []byte) {
	var a0, a1, a2, c0, c1, c2 int
	for j := 0; j+3 <= len(cdat); j += 3 {
		cd := cdat[j : j+3 : j+3]
		pd := pdat[j : j+3 : j+3]
		b0, b1, b2 := int(pd[0]), int(pd[1]), int(pd[2])
		a0 = (paethPredict(a0, b0, c0) + int(cd[0])) & 0xff
		a1 = (paethPredict(a1, b1, c1) + int(cd[1])) & 0xff
		a2 = (paethPredict(a2, b2, c2) + int(cd[2])) & 0xff
		cd[0], cd[1], cd[2] = uint8(a0), uint8(a1), uint8(a2) // #nosec G115 -- masked to bytes
		c0, c1, c2 = b0, b1, b2
	}
}

// unpack expands a row of 1, 2 or 4-bit samples, most significant first,
// to one byte each, multiplied by mult.
func unpack(dst, src []byte, width, depth int, mult byte) {
	mask := byte(1)<<uint(depth) - 1
	for x := range width {
		bit := x * depth
		dst[x] = (src[bit>>3] >> uint(8-depth-bit&7) & mask) * mult
	}
}

// grayMult scales a gray sample of depth bits to 8 bits.
func grayMult(depth int) byte {
	switch depth {
	case 1:
		return 0xff
	case 2:
		return 0x55
	case 4:
		return 0x11
	}
	return 1
}
