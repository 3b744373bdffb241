package jpegdec

// A small JPEG encoder for the tests: baseline or progressive (any scan
// script, successive approximation, EOB runs, restart intervals), any
// sampling factors image/jpeg supports, 1, 3 or 4 components, optional JFIF
// and Adobe segments. image/jpeg's encoder writes only baseline 4:2:0 or
// gray, and nothing in the standard library writes progressive JPEGs.
// Huffman tables are optimal per scan (ITU T.81 annex K.2).

import (
	"bytes"
	"image"
	"image/color"
	"math"
	mbits "math/bits"
	"math/rand/v2"
)

// encComp is one component to encode: its plane at component resolution.
type encComp struct {
	id     byte
	h, v   int
	tq     int
	pix    []byte
	stride int
	cw, ch int
}

// encScan is one scan of a script: component indexes, Ss, Se, Ah, Al.
type encScan struct {
	comps          []int
	ss, se, ah, al int
}

type encoder struct {
	w, h        int
	comps       []encComp
	quant       [][64]int // natural order
	progressive bool
	scans       []encScan // nil: one interleaved scan (baseline) or the default script
	restart     int       // restart interval in MCUs, 0 for none
	adobe       int       // -1: no APP14, else its transform byte
	jfif        bool
	// nonInterleavedDC sends the progressive DC scans one component at a time
	// (only used by defaultScript).
	nonInterleavedDC bool
	// tweak, if set, edits the quantized coefficients (per component, per
	// block, natural order) before they are encoded: for hostile files.
	tweak func(coefs [][][64]int32)
}

// Standard tables (ITU T.81 K.1), natural order.
var stdLuma = [64]int{
	16, 11, 10, 16, 24, 40, 51, 61,
	12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56,
	14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77,
	24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101,
	72, 92, 95, 98, 112, 100, 103, 99,
}

var stdChroma = [64]int{
	17, 18, 24, 47, 99, 99, 99, 99,
	18, 21, 26, 66, 99, 99, 99, 99,
	24, 26, 56, 99, 99, 99, 99, 99,
	47, 66, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
}

// scaledQuant is the IJG quality scaling of t.
func scaledQuant(t [64]int, quality int) [64]int {
	quality = min(max(quality, 1), 100)
	s := 200 - 2*quality
	if quality < 50 {
		s = 5000 / quality
	}
	var q [64]int
	for i, v := range t {
		q[i] = min(max((v*s+50)/100, 1), 255)
	}
	return q
}

// blocksOf returns the quantized coefficients of c, in natural order, for a
// grid of bw × bh blocks (padding by edge replication).
func blocksOf(c *encComp, bw, bh int, q *[64]int) [][64]int32 {
	out := make([][64]int32, bw*bh)
	var cos [8][8]float64
	for x := range 8 {
		for u := range 8 {
			cos[x][u] = math.Cos(float64(2*x+1) * float64(u) * math.Pi / 16)
		}
	}
	for by := range bh {
		for bx := range bw {
			var p [64]float64
			for y := range 8 {
				sy := min(by*8+y, c.ch-1)
				for x := range 8 {
					sx := min(bx*8+x, c.cw-1)
					p[8*y+x] = float64(c.pix[sy*c.stride+sx]) - 128
				}
			}
			// Separable FDCT: rows, then columns.
			var t [64]float64
			for y := range 8 {
				for u := range 8 {
					s := 0.0
					for x := range 8 {
						s += p[8*y+x] * cos[x][u]
					}
					t[8*y+u] = s
				}
			}
			blk := &out[by*bw+bx]
			for u := range 8 {
				for v := range 8 {
					s := 0.0
					for y := range 8 {
						s += t[8*y+u] * cos[y][v]
					}
					cu, cv := 1.0, 1.0
					if u == 0 {
						cu = 1 / math.Sqrt2
					}
					if v == 0 {
						cv = 1 / math.Sqrt2
					}
					f := s * cu * cv / 4
					blk[8*v+u] = int32(math.Round(f / float64(q[8*v+u])))
				}
			}
		}
	}
	return out
}

// token is one item of a scan's entropy-coded data.
type token struct {
	kind uint8 // tokSym, tokBits or tokRST
	tbl  uint8 // tokSym: 0, 1 (DC tables), 2, 3 (AC tables)
	sym  uint8
	n    uint8
	bits uint32
}

const (
	tokSym = iota
	tokBits
	tokRST
)

type scanWriter struct {
	toks        []token
	eobrun      int
	be          []uint8 // buffered correction bits (AC refinement)
	acTbl       uint8
	interleaved bool
}

func (s *scanWriter) sym(tbl, sym uint8) {
	s.toks = append(s.toks, token{kind: tokSym, tbl: tbl, sym: sym})
}
func (s *scanWriter) raw(v uint32, n int) {
	if n > 0 {
		s.toks = append(s.toks, token{kind: tokBits, n: uint8(n), bits: v & (1<<n - 1)})
	}
}

func (s *scanWriter) emitEOBRun() {
	if s.eobrun > 0 {
		nb := mbits.Len(uint(s.eobrun)) - 1
		s.sym(s.acTbl, uint8(nb<<4))
		s.raw(uint32(s.eobrun), nb)
		s.eobrun = 0
	}
	for _, b := range s.be {
		s.raw(uint32(b), 1)
	}
	s.be = s.be[:0]
}

// magnitude returns the JPEG category and extra bits of v.
func magnitude(v int) (int, uint32) {
	a := v
	if a < 0 {
		a = -a
	}
	n := mbits.Len(uint(a))
	if v < 0 {
		v += 1<<n - 1
	}
	return n, uint32(v)
}

func (e *encoder) defaultScript() []encScan {
	all := make([]int, len(e.comps))
	for i := range all {
		all[i] = i
	}
	if !e.progressive {
		return []encScan{{comps: all, ss: 0, se: 63}}
	}
	var s []encScan
	dc := func(ah, al int) {
		if e.nonInterleavedDC || len(all) == 1 {
			for i := range all {
				s = append(s, encScan{comps: []int{i}, ah: ah, al: al})
			}
			return
		}
		s = append(s, encScan{comps: all, ah: ah, al: al})
	}
	dc(0, 1)
	s = append(s, encScan{comps: []int{0}, ss: 1, se: 5, al: 2})
	for i := len(all) - 1; i >= 1; i-- {
		s = append(s, encScan{comps: []int{i}, ss: 1, se: 63, al: 1})
	}
	s = append(s, encScan{comps: []int{0}, ss: 6, se: 63, al: 2})
	s = append(s, encScan{comps: []int{0}, ss: 1, se: 63, ah: 2, al: 1})
	dc(1, 0)
	for i := len(all) - 1; i >= 1; i-- {
		s = append(s, encScan{comps: []int{i}, ss: 1, se: 63, ah: 1, al: 0})
	}
	s = append(s, encScan{comps: []int{0}, ss: 1, se: 63, ah: 1, al: 0})
	return s
}

func (e *encoder) encode() []byte {
	hmax, vmax := 1, 1
	for _, c := range e.comps {
		hmax, vmax = max(hmax, c.h), max(vmax, c.v)
	}
	if len(e.comps) == 1 {
		hmax, vmax = 1, 1
		e.comps[0].h, e.comps[0].v = 1, 1
	}
	mxx := (e.w + 8*hmax - 1) / (8 * hmax)
	myy := (e.h + 8*vmax - 1) / (8 * vmax)
	coefs := make([][][64]int32, len(e.comps))
	for i := range e.comps {
		c := &e.comps[i]
		coefs[i] = blocksOf(c, mxx*c.h, myy*c.v, &e.quant[c.tq])
	}
	if e.tweak != nil {
		e.tweak(coefs)
	}

	var out bytes.Buffer
	seg := func(marker byte, payload []byte) {
		out.Write([]byte{0xff, marker, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)})
		out.Write(payload)
	}
	out.Write([]byte{0xff, 0xd8})
	if e.jfif {
		seg(0xe0, []byte{'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0})
	}
	if e.adobe >= 0 {
		seg(0xee, []byte{'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, byte(e.adobe)})
	}
	for i, q := range e.quant {
		p := []byte{byte(i)}
		for z := range 64 {
			p = append(p, byte(q[unzig[z]]))
		}
		seg(0xdb, p)
	}
	sof := []byte{8, byte(e.h >> 8), byte(e.h), byte(e.w >> 8), byte(e.w), byte(len(e.comps))}
	for _, c := range e.comps {
		sof = append(sof, c.id, byte(c.h<<4|c.v), byte(c.tq))
	}
	if e.progressive {
		seg(0xc2, sof)
	} else {
		seg(0xc0, sof)
	}
	if e.restart > 0 {
		seg(0xdd, []byte{byte(e.restart >> 8), byte(e.restart)})
	}
	scans := e.scans
	if scans == nil {
		scans = e.defaultScript()
	}
	for _, sc := range scans {
		sw := e.scanTokens(sc, coefs, mxx, myy)
		// Optimal tables for the tables this scan uses.
		var freq [4][256]int
		for _, t := range sw.toks {
			if t.kind == tokSym {
				freq[t.tbl][t.sym]++
			}
		}
		var codes [4][256]uint16
		var lens [4][256]uint8
		for tbl := range 4 {
			used := false
			for _, f := range freq[tbl] {
				used = used || f > 0
			}
			if !used {
				continue
			}
			counts, vals := optimalTable(&freq[tbl])
			p := []byte{byte(tbl/2<<4 | tbl%2)}
			p = append(p, counts[:]...)
			p = append(p, vals...)
			seg(0xc4, p)
			code, k := uint16(0), 0
			for l := 1; l <= 16; l++ {
				for range counts[l-1] {
					codes[tbl][vals[k]] = code
					lens[tbl][vals[k]] = uint8(l)
					code++
					k++
				}
				code <<= 1
			}
		}
		p := []byte{byte(len(sc.comps))}
		for _, ci := range sc.comps {
			t := byte(min(ci, 1))
			p = append(p, e.comps[ci].id, t<<4|t)
		}
		p = append(p, byte(sc.ss), byte(sc.se), byte(sc.ah<<4|sc.al))
		seg(0xda, p)
		var bw bitWriter
		for _, t := range sw.toks {
			switch t.kind {
			case tokSym:
				if lens[t.tbl][t.sym] == 0 {
					panic("symbol without code")
				}
				bw.write(uint32(codes[t.tbl][t.sym]), int(lens[t.tbl][t.sym]))
			case tokBits:
				bw.write(t.bits, int(t.n))
			case tokRST:
				bw.flush()
				bw.b = append(bw.b, 0xff, 0xd0+t.sym)
			}
		}
		bw.flush()
		out.Write(bw.b)
	}
	out.Write([]byte{0xff, 0xd9})
	return out.Bytes()
}

// scanTokens encodes one scan into tokens.
func (e *encoder) scanTokens(sc encScan, coefs [][][64]int32, mxx, myy int) *scanWriter {
	sw := &scanWriter{acTbl: 2 + uint8(min(sc.comps[0], 1)), interleaved: len(sc.comps) > 1}
	var pred [4]int
	type blk struct {
		ci int
		b  *[64]int32
	}
	// The MCUs of the scan, in order.
	var mcus [][]blk
	if sw.interleaved {
		for my := range myy {
			for mx := range mxx {
				var m []blk
				for _, ci := range sc.comps {
					c := &e.comps[ci]
					for j := range c.h * c.v {
						bx, by := mx*c.h+j%c.h, my*c.v+j/c.h
						m = append(m, blk{ci, &coefs[ci][by*mxx*c.h+bx]})
					}
				}
				mcus = append(mcus, m)
			}
		}
	} else {
		ci := sc.comps[0]
		c := &e.comps[ci]
		bw, bh := (c.cw+7)/8, (c.ch+7)/8
		for by := range bh {
			for bx := range bw {
				mcus = append(mcus, []blk{{ci, &coefs[ci][by*mxx*c.h+bx]}})
			}
		}
	}
	rst := 0
	for mi, m := range mcus {
		if e.restart > 0 && mi > 0 && mi%e.restart == 0 {
			sw.emitEOBRun()
			sw.toks = append(sw.toks, token{kind: tokRST, sym: uint8(rst % 8)})
			rst++
			pred = [4]int{}
		}
		for _, b := range m {
			dcTbl := uint8(min(b.ci, 1))
			switch {
			case sc.ss == 0 && sc.ah == 0:
				v := int(b.b[0]) >> sc.al
				n, x := magnitude(v - pred[b.ci])
				pred[b.ci] = v
				sw.sym(dcTbl, uint8(n))
				sw.raw(x, n)
				if sc.se > 0 { // sequential: the AC coefficients follow
					sw.acTbl = 2 + dcTbl
					e.acFirst(sw, b.b, encScan{ss: 1, se: sc.se, al: sc.al})
				}
			case sc.ss == 0:
				sw.raw(uint32(int(b.b[0])>>sc.al), 1)
			case sc.ah == 0:
				e.acFirst(sw, b.b, sc)
			default:
				e.acRefine(sw, b.b, sc)
			}
		}
	}
	sw.emitEOBRun()
	return sw
}

func (e *encoder) acFirst(sw *scanWriter, b *[64]int32, sc encScan) {
	r := 0
	for k := sc.ss; k <= sc.se; k++ {
		v := int(b[unzig[k]])
		neg := v < 0
		if neg {
			v = -v
		}
		v >>= sc.al
		if v == 0 {
			r++
			continue
		}
		if neg {
			v = -v
		}
		if e.progressive {
			sw.emitEOBRun()
		}
		for r > 15 {
			sw.sym(sw.acTbl, 0xf0)
			r -= 16
		}
		n, x := magnitude(v)
		sw.sym(sw.acTbl, uint8(r<<4|n))
		sw.raw(x, n)
		r = 0
	}
	if r > 0 {
		if !e.progressive {
			sw.sym(sw.acTbl, 0x00)
			return
		}
		sw.eobrun++
		if sw.eobrun == 0x7fff {
			sw.emitEOBRun()
		}
	}
}

func (e *encoder) acRefine(sw *scanWriter, b *[64]int32, sc encScan) {
	var abs [64]int
	eob := 0
	for k := sc.ss; k <= sc.se; k++ {
		v := int(b[unzig[k]])
		if v < 0 {
			v = -v
		}
		v >>= sc.al
		abs[k] = v
		if v == 1 {
			eob = k
		}
	}
	r := 0
	var br []uint8
	for k := sc.ss; k <= sc.se; k++ {
		v := abs[k]
		if v == 0 {
			r++
			continue
		}
		for r > 15 && k <= eob {
			sw.emitEOBRun()
			sw.sym(sw.acTbl, 0xf0)
			r -= 16
			for _, x := range br {
				sw.raw(uint32(x), 1)
			}
			br = br[:0]
		}
		if v > 1 {
			br = append(br, uint8(v&1))
			continue
		}
		sw.emitEOBRun()
		sw.sym(sw.acTbl, uint8(r<<4|1))
		sign := uint32(1)
		if b[unzig[k]] < 0 {
			sign = 0
		}
		sw.raw(sign, 1)
		for _, x := range br {
			sw.raw(uint32(x), 1)
		}
		br = br[:0]
		r = 0
	}
	if r > 0 || len(br) > 0 {
		sw.eobrun++
		sw.be = append(sw.be, br...)
		if sw.eobrun == 0x7fff || len(sw.be) > 900 {
			sw.emitEOBRun()
		}
	}
}

// optimalTable returns the BITS and HUFFVAL lists of an optimal Huffman
// table for freq, code lengths limited to 16 (ITU T.81 K.2).
func optimalTable(freq *[256]int) ([16]byte, []byte) {
	var f [257]int
	copy(f[:], freq[:])
	f[256] = 1 // reserved, so that no code is all ones
	var codesize [257]int
	var others [257]int
	for i := range others {
		others[i] = -1
	}
	for {
		c1, c2 := -1, -1
		v := math.MaxInt
		for i := range f {
			if f[i] > 0 && f[i] <= v {
				v, c1 = f[i], i
			}
		}
		v = math.MaxInt
		for i := range f {
			if f[i] > 0 && f[i] <= v && i != c1 {
				v, c2 = f[i], i
			}
		}
		if c2 < 0 {
			break
		}
		f[c1] += f[c2]
		f[c2] = 0
		codesize[c1]++
		for others[c1] >= 0 {
			c1 = others[c1]
			codesize[c1]++
		}
		others[c1] = c2
		codesize[c2]++
		for others[c2] >= 0 {
			c2 = others[c2]
			codesize[c2]++
		}
	}
	var nb [300]int
	for _, s := range codesize {
		if s > 0 {
			nb[s]++
		}
	}
	for i := len(nb) - 1; i > 16; i-- {
		for nb[i] > 0 {
			j := i - 2
			for nb[j] == 0 {
				j--
			}
			nb[i] -= 2
			nb[i-1]++
			nb[j+1] += 2
			nb[j]--
		}
	}
	i := 16
	for nb[i] == 0 {
		i--
	}
	nb[i]-- // drop the reserved symbol's code, the longest
	var counts [16]byte
	for l := 1; l <= 16; l++ {
		counts[l-1] = byte(nb[l])
	}
	var vals []byte
	for l := 1; l < len(nb); l++ {
		for s := range 256 {
			if codesize[s] == l {
				vals = append(vals, byte(s))
			}
		}
	}
	// After length limiting, code lengths are assigned in order of the
	// original lengths; vals is sorted that way already.
	return counts, vals
}

type bitWriter struct {
	b   []byte
	acc uint32
	n   int
}

func (w *bitWriter) write(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | v>>i&1
		w.n++
		if w.n == 8 {
			w.b = append(w.b, byte(w.acc))
			if byte(w.acc) == 0xff {
				w.b = append(w.b, 0)
			}
			w.acc, w.n = 0, 0
		}
	}
}

func (w *bitWriter) flush() {
	for w.n != 0 {
		w.write(1, 1)
	}
}

// naturalImage returns a deterministic w×h image that looks somewhat like a
// photo as far as a JPEG codec is concerned: smooth gradients, 1/f value
// noise in several octaves, a few hard-edged shapes and some fine grain.
func naturalImage(w, h int, seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	type octave struct {
		cell int
		amp  float64
		gw   int
		grid []float32
	}
	var octs [3][]octave
	for c := range 3 {
		for cell, amp := 256, 60.0; cell >= 2; cell, amp = cell/2, amp*0.8 {
			gw, gh := w/cell+2, h/cell+2
			g := make([]float32, gw*gh)
			for i := range g {
				g[i] = float32(rng.Float64()*2 - 1)
			}
			octs[c] = append(octs[c], octave{cell, amp, gw, g})
		}
	}
	type rect struct {
		r   image.Rectangle
		col [3]float64
	}
	var rects []rect
	for range 6 {
		x, y := rng.IntN(w), rng.IntN(h)
		rects = append(rects, rect{image.Rect(x, y, x+rng.IntN(w/3+1)+1, y+rng.IntN(h/3+1)+1),
			[3]float64{rng.Float64()*80 - 40, rng.Float64()*80 - 40, rng.Float64()*80 - 40}})
	}
	var base [3]float64
	for c := range base {
		base[c] = 70 + rng.Float64()*110
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := image.Pt(x, y)
			for c := range 3 {
				v := base[c] + 40*float64(x)/float64(w) - 30*float64(y)/float64(h)
				for _, o := range octs[c] {
					gx, gy := x/o.cell, y/o.cell
					fx := float64(x%o.cell) / float64(o.cell)
					fy := float64(y%o.cell) / float64(o.cell)
					fx = fx * fx * (3 - 2*fx)
					fy = fy * fy * (3 - 2*fy)
					i := gy*o.gw + gx
					a := float64(o.grid[i])*(1-fx) + float64(o.grid[i+1])*fx
					b := float64(o.grid[i+o.gw])*(1-fx) + float64(o.grid[i+o.gw+1])*fx
					v += o.amp * (a*(1-fy) + b*fy)
				}
				for _, r := range rects {
					if p.In(r.r) {
						v += r.col[c]
					}
				}
				v += float64(int(rng.Uint32()%17) - 8)
				m.Pix[m.PixOffset(x, y)+c] = uint8(min(max(v, 0), 255))
			}
			m.Pix[m.PixOffset(x, y)+3] = 255
		}
	}
	return m
}

// planes converts m to components with the given sampling factors (Y's,
// then Cb's and Cr's) and quantization tables at quality.
func ycbcrEncoder(m *image.RGBA, h0, v0, h1, v1, quality int) *encoder {
	w, h := m.Bounds().Dx(), m.Bounds().Dy()
	hmax, vmax := h0, v0
	mk := func(id byte, hs, vs, tq int) encComp {
		cw := (w*hs + hmax - 1) / hmax
		ch := (h*vs + vmax - 1) / vmax
		return encComp{id: id, h: hs, v: vs, tq: tq, pix: make([]byte, cw*ch), stride: cw, cw: cw, ch: ch}
	}
	comps := []encComp{mk(1, h0, v0, 0), mk(2, h1, v1, 1), mk(3, h1, v1, 1)}
	var sum [3][]int
	var cnt [3][]int
	for i := range comps {
		sum[i] = make([]int, len(comps[i].pix))
		cnt[i] = make([]int, len(comps[i].pix))
	}
	for y := range h {
		for x := range w {
			o := m.PixOffset(x, y)
			yy, cb, cr := color.RGBToYCbCr(m.Pix[o], m.Pix[o+1], m.Pix[o+2])
			for i, v := range [3]byte{yy, cb, cr} {
				c := &comps[i]
				j := (y*c.v/vmax)*c.stride + x*c.h/hmax
				sum[i][j] += int(v)
				cnt[i][j]++
			}
		}
	}
	for i := range comps {
		for j := range sum[i] {
			comps[i].pix[j] = byte((sum[i][j] + cnt[i][j]/2) / cnt[i][j])
		}
	}
	return &encoder{w: w, h: h, comps: comps, adobe: -1, jfif: true,
		quant: [][64]int{scaledQuant(stdLuma, quality), scaledQuant(stdChroma, quality)}}
}

// grayEncoder returns an encoder for the luma of m.
func grayEncoder(m *image.RGBA, quality int) *encoder {
	w, h := m.Bounds().Dx(), m.Bounds().Dy()
	c := encComp{id: 1, h: 1, v: 1, pix: make([]byte, w*h), stride: w, cw: w, ch: h}
	for y := range h {
		for x := range w {
			o := m.PixOffset(x, y)
			c.pix[y*w+x], _, _ = color.RGBToYCbCr(m.Pix[o], m.Pix[o+1], m.Pix[o+2])
		}
	}
	return &encoder{w: w, h: h, comps: []encComp{c}, adobe: -1, jfif: true,
		quant: [][64]int{scaledQuant(stdLuma, quality)}}
}

// channelEncoder returns an encoder for n raw channels of m (R, G, B, and for
// n=4 a fourth derived channel), all 1×1 sampled except those listed in
// sub, which are 2×2 subsampled against a 2×2 first component.
func channelEncoder(m *image.RGBA, n int, ids []byte, hv []int, quality int) *encoder {
	w, h := m.Bounds().Dx(), m.Bounds().Dy()
	hmax := 1
	for _, s := range hv {
		hmax = max(hmax, s)
	}
	var comps []encComp
	for i := range n {
		s := hv[i]
		cw, ch := (w*s+hmax-1)/hmax, (h*s+hmax-1)/hmax
		c := encComp{id: ids[i], h: s, v: s, pix: make([]byte, cw*ch), stride: cw, cw: cw, ch: ch, tq: min(i, 1)}
		for y := range ch {
			for x := range cw {
				o := m.PixOffset(x*hmax/s, y*hmax/s)
				var v byte
				if i < 3 {
					v = m.Pix[o+i]
				} else {
					v = 255 - (m.Pix[o]/2 + m.Pix[o+1]/4)
				}
				c.pix[y*cw+x] = v
			}
		}
		comps = append(comps, c)
	}
	return &encoder{w: w, h: h, comps: comps, adobe: -1,
		quant: [][64]int{scaledQuant(stdLuma, quality), scaledQuant(stdChroma, quality)}}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }
