package resize

import (
	"image"
	"math"
)

// Layout is the sample layout of the rows a Rows is fed: 8 bits a sample, colour not
// premultiplied by alpha (as PNG stores it).
type Layout int

// The layouts Rows accepts.
const (
	Gray8      Layout = iota + 1 // gray: one byte a pixel
	GrayAlpha8                   // gray, alpha: two bytes a pixel
	RGB8                         // red, green, blue: three bytes a pixel
	RGBA8                        // red, green, blue, alpha: four bytes a pixel
)

// Bytes is the size of a pixel in the layout: 0 for an unknown one.
func (l Layout) Bytes() int {
	switch l {
	case Gray8:
		return 1
	case GrayAlpha8:
		return 2
	case RGB8:
		return 3
	case RGBA8:
		return 4
	}
	return 0
}

// channels is the samples a pixel has inside a Rows: RGB is widened to opaque RGBA,
// which the four-sample filter takes.
func (l Layout) channels() int {
	if l == RGB8 {
		return 4
	}
	return l.Bytes()
}

// Rows accepts an image's rows top to bottom, as a row-streaming decoder produces them,
// and keeps only their kx×ky box averages (colour premultiplied by alpha first), with kx
// and ky chosen as Image chooses them: the kept image stays between two and four times
// the target on each axis, or the source itself when that is smaller. Image then
// filters it to the target exactly as Image does a whole decoded image, so the
// decoder never holds the full picture. A partial last box keeps the exact geometry.
//
// A Rows is used by one goroutine; Row after the last row is ignored.
type Rows struct {
	w, h, dw, dh int
	layout       Layout
	ch           int
	kx, ky       int
	box          plane
	acc          []int
	tmp          []byte // a row converted to the kept samples
	pad          []byte // a short row padded to w pixels
	y            int    // rows received
}

// NewRows prepares to shrink a w×h image given in layout to dw×dh. Sizes below 1 count
// as 1. It returns nil for an unknown layout.
func NewRows(w, h int, layout Layout, dw, dh int) *Rows {
	if layout.Bytes() == 0 {
		return nil
	}
	w, h, dw, dh = max(w, 1), max(h, 1), max(dw, 1), max(dh, 1)
	ch := layout.channels()
	kx, ky := rowsBoxes(w, h, dw, dh)
	src := newPlaneCh(nil, w*ch, w, h, ch, 0)
	r := &Rows{w: w, h: h, dw: dw, dh: dh, layout: layout, ch: ch, kx: kx, ky: ky,
		box: boxPlane(src, kx, ky), tmp: make([]byte, w*ch)}
	if kx > 1 || ky > 1 {
		r.acc = make([]int, r.box.w*ch)
	}
	return r
}

// rowsBoxes is the box size scalePlane would pick for a w×h source and a dw×dh target.
func rowsBoxes(w, h, dw, dh int) (kx, ky int) {
	return max(w/(2*dw), 1), max(h/(2*dh), 1)
}

// Row takes the next source row: w pixels in the layout (a shorter pix is padded with
// zero samples, a longer one cut).
func (r *Rows) Row(pix []byte) {
	if r == nil || r.y >= r.h {
		return
	}
	nb := r.w * r.layout.Bytes()
	in := pix
	if len(in) < nb {
		if r.pad == nil {
			r.pad = make([]byte, nb)
		}
		clear(r.pad[copy(r.pad, in):])
		in = r.pad
	}
	in = in[:nb]
	switch r.layout {
	case GrayAlpha8:
		for x := 0; x+2 <= nb; x += 2 {
			a := in[x+1]
			r.tmp[x], r.tmp[x+1] = premul(in[x], a), a
		}
		in = r.tmp
	case RGB8:
		for x := range r.w {
			r.tmp[4*x], r.tmp[4*x+1], r.tmp[4*x+2], r.tmp[4*x+3] = in[3*x], in[3*x+1], in[3*x+2], 255
		}
		in = r.tmp
	case RGBA8:
		premultiplyRow(r.tmp, in)
		in = r.tmp
	}
	if r.acc == nil { // no shrink: keep the row as it is
		copy(r.box.pix[r.y*r.box.stride:], in)
		r.y++
		return
	}
	boxAdd(r.acc, in, r.w, r.ch, r.kx)
	r.y++
	if r.y%r.ky == 0 || r.y == r.h {
		r.flush()
	}
}

// flush writes the box row the last rows fell into.
func (r *Rows) flush() {
	oy := (r.y - 1) / r.ky
	o := oy * r.box.stride
	boxMean(r.box.pix[o:o+r.box.w*r.ch], r.acc, r.w, r.ch, r.kx, r.y-oy*r.ky)
	clear(r.acc)
}

// Image returns, after the last row, the image scaled to dw×dh and then oriented by EXIF
// orientation o (as Image does): *image.Gray for Gray8 (and for GrayAlpha8 when the
// result is opaque), *image.RGBA for RGB8 and opaque RGBA8, else *image.NRGBA. Rows not
// given by then are transparent black. Call it once.
func (r *Rows) Image(o int) image.Image {
	if r == nil {
		return nil
	}
	if r.acc != nil && r.y%r.ky != 0 && r.y < r.h {
		r.flush() // a partial box of an image cut short
	}
	p := r.box
	if p.w != r.dw || p.h != r.dh {
		p = scalePlane(p, r.dw, r.dh, 1)
	}
	p = orient(p, o)
	if r.layout != GrayAlpha8 {
		return finish(p, false)
	}
	return finishGrayAlpha(p)
}

// finishGrayAlpha turns a filtered premultiplied gray-alpha plane into an *image.Gray if
// it is opaque, else an *image.NRGBA.
func finishGrayAlpha(p plane) image.Image {
	rect := image.Rect(0, 0, p.w, p.h)
	n := p.w * p.h
	opaque := true
	for i := 1; i < 2*n; i += 2 {
		if p.pix[i] != 255 {
			opaque = false
			break
		}
	}
	if opaque {
		g := image.NewGray(rect)
		for i := range g.Pix {
			g.Pix[i] = p.pix[2*i]
		}
		return g
	}
	m := image.NewNRGBA(rect)
	for i := range n {
		a := p.pix[2*i+1]
		v := min(p.pix[2*i], a)
		m.Pix[4*i], m.Pix[4*i+1], m.Pix[4*i+2], m.Pix[4*i+3] = v, v, v, a
	}
	unpremultiply(m.Pix)
	return m
}

// RowsBytes bounds what NewRows(w, h, layout, dw, dh), its rows and its Image allocate
// (the caller's rows aside, but a padded copy of a short one included), for a render's
// memory budget.
func RowsBytes(w, h int, layout Layout, dw, dh int) int64 {
	w, h, dw, dh = max(w, 1), max(h, 1), max(dw, 1), max(dh, 1)
	ch := int64(max(layout.channels(), 1))
	kx, ky := rowsBoxes(w, h, dw, dh)
	bw, bh := int64((w+kx-1)/kx), int64((h+ky-1)/ky)
	out := int64(dw) * int64(dh)
	n := int64(512) // the Rows and the image headers
	n += bw*bh*ch + 8*bw*ch + int64(w)*ch + int64(w)*int64(max(layout.Bytes(), 1))
	if bw != int64(dw) || bh != int64(dh) {
		// scalePlane: weights, one row before and during the horizontal pass, the result
		n += tapsBytes(dw, bw) + tapsBytes(dh, bh) + 5*bw*ch + out*ch
	}
	n += out * ch // orientation
	if layout == GrayAlpha8 {
		n += 4 * out
	}
	// The allocator rounds each of the dozen or so allocations up to its size class (at
	// most an eighth more for small ones, to 8 KiB pages for large ones).
	return n + n/8 + 96<<10
}

// tapsBytes bounds makeTaps' allocation for dst outputs from src samples.
func tapsBytes(dst int, src int64) int64 {
	taps := tapsN(dst, src)
	return int64(dst)*(8+2*taps) + 8*taps + 128
}

// tapsN bounds makeTaps' window length for dst outputs from src samples.
func tapsN(dst int, src int64) int64 {
	scale := max(float64(src)/float64(dst), 1)
	return min(int64(2*math.Ceil(scale*support))+1, src)
}
