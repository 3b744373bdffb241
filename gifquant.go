package fastimagecache

import (
	"image"
	"image/color"
	"image/draw"
	"slices"
)

// paletteIndexer quantises resized animation frames to a palette: each pixel to the
// nearest entry exactly as image/draw does for draw.Draw(dst, …, draw.Src) onto an
// *image.Paletted (no dithering; the same distance, the first entry of the least one),
// but remembering recent answers in a small direct-mapped table, since a frame has far
// fewer distinct colours than pixels and draw searches all 256 entries for every pixel.
// Frames that share a palette share the table, so each colour is searched about once
// per animation. Its memory is fixed (about 40 KiB).
type paletteIndexer struct {
	pal     color.Palette
	entries [][4]int32
	memo    [1 << quantMemoBits]uint64 // 1<<40 | colour<<8 | index; 0: empty
}

const quantMemoBits = 12

// indexerFor returns q if it quantises to p, else a new indexer for p.
func indexerFor(q *paletteIndexer, p color.Palette) *paletteIndexer {
	if q != nil && slices.Equal(q.pal, p) {
		return q
	}
	q = &paletteIndexer{pal: p, entries: make([][4]int32, len(p))}
	for i, c := range p {
		r, g, b, a := c.RGBA()
		q.entries[i] = [4]int32{int32(r), int32(g), int32(b), int32(a)} // #nosec G115 -- 16-bit values
	}
	return q
}

// draw sets dst (whose palette is q's) to src, which has dst's bounds.
func (q *paletteIndexer) draw(dst *image.Paletted, src image.Image) {
	b := dst.Rect
	var pix []byte
	var stride, off int
	nonPremul := false
	switch m := src.(type) {
	case *image.RGBA:
		pix, stride, off = m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y)
	case *image.NRGBA:
		pix, stride, off, nonPremul = m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), true
	default:
		draw.Draw(dst, b, src, b.Min, draw.Src)
		return
	}
	for y := range b.Dy() {
		row := pix[off+y*stride : off+y*stride+4*b.Dx()]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+b.Dx()]
		for x := range out {
			p := row[4*x : 4*x+4 : 4*x+4]
			key := uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24
			slot := &q.memo[(key*0x9E3779B1)>>(32-quantMemoBits)]
			if *slot>>40 == 1 && uint32(*slot>>8) == key { // #nosec G115 -- the colour's 32 bits
				out[x] = byte(*slot) // #nosec G115 -- the index's byte
				continue
			}
			// the 16-bit colour draw's fast paths read (RGBAAt / NRGBAAt, then RGBA)
			r, g, b, a := color.RGBA{p[0], p[1], p[2], p[3]}.RGBA()
			if nonPremul {
				r, g, b, a = color.NRGBA{p[0], p[1], p[2], p[3]}.RGBA()
			}
			i := q.nearest(r, g, b, a)
			*slot = 1<<40 | uint64(key)<<8 | uint64(i)
			out[x] = i
		}
	}
}

// nearest is image/draw's search: the least sum of squared differences over R, G, B, A
// at 16 bits (wrapping as draw's sqDiff does), the first such entry.
func (q *paletteIndexer) nearest(sr, sg, sb, sa uint32) byte {
	er, eg, eb, ea := int32(sr), int32(sg), int32(sb), int32(sa) // #nosec G115 -- 16-bit values
	best, bestSum := 0, uint32(1<<32-1)
	for i, p := range q.entries {
		sum := sqDiff(er, p[0]) + sqDiff(eg, p[1]) + sqDiff(eb, p[2]) + sqDiff(ea, p[3])
		if sum < bestSum {
			best, bestSum = i, sum
			if sum == 0 {
				break
			}
		}
	}
	return byte(best) // #nosec G115 -- a palette has at most 256 entries
}

// sqDiff is image/draw's: (x-y)² / 4 in wrapping 32-bit arithmetic.
func sqDiff(x, y int32) uint32 {
	d := uint32(x - y) // #nosec G115 -- wraps on purpose, as image/draw's does
	return (d * d) >> 2
}
