package inflate

import (
	"errors"
	stdadler "hash/adler32"
	"io"
	"math/rand/v2"
	"testing"
)

// bitWriter writes DEFLATE bit fields (least significant bit first) and
// Huffman codewords (most significant bit first).
type bitWriter struct {
	out  []byte
	bits uint64
	nb   uint
}

func (w *bitWriter) put(v uint64, n uint) {
	w.bits |= v << w.nb
	w.nb += n
	for w.nb >= 8 {
		w.out = append(w.out, byte(w.bits))
		w.bits >>= 8
		w.nb -= 8
	}
}

func (w *bitWriter) code(c uint16, n uint8) {
	for i := int(n) - 1; i >= 0; i-- {
		w.put(uint64(c>>uint(i))&1, 1)
	}
}

func (w *bitWriter) flush() []byte {
	if w.nb > 0 {
		w.put(0, 8-w.nb)
	}
	return w.out
}

// canonical assigns RFC 1951 canonical codewords to code lengths.
func canonical(lens []uint8) []uint16 {
	var count [16]int
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	var next [16]int
	c := 0
	for l := 1; l < 16; l++ {
		c = (c + count[l-1]) << 1
		next[l] = c
	}
	codes := make([]uint16, len(lens))
	for s, l := range lens {
		if l > 0 {
			codes[s] = uint16(next[l])
			next[l]++
		}
	}
	return codes
}

// zlibWrap adds a zlib header and the Adler-32 of out to DEFLATE data.
func zlibWrap(deflate, out []byte) []byte {
	z := append([]byte{0x78, 0x9c}, deflate...)
	a := stdadler.Checksum(out)
	return append(z, byte(a>>24), byte(a>>16), byte(a>>8), byte(a))
}

// fixedLens are the fixed code's lengths.
func fixedLens() ([]uint8, []uint8) {
	lit := make([]uint8, 288)
	for i := range lit {
		switch {
		case i < 144:
			lit[i] = 8
		case i < 256:
			lit[i] = 9
		case i < 280:
			lit[i] = 7
		default:
			lit[i] = 8
		}
	}
	dist := make([]uint8, 32)
	for i := range dist {
		dist[i] = 5
	}
	return lit, dist
}

// clenLens is a complete code-length code: 0..12 in 4 bits, 13..18 in 5.
var clenLens = func() []uint8 {
	l := make([]uint8, 19)
	for i := range l {
		l[i] = 4
		if i >= 13 {
			l[i] = 5
		}
	}
	return l
}()

// dynamicHeader writes a final dynamic block's header for the code lengths
// lit and dist, each length sent as its own code-length symbol; extra
// code-length symbols (with their extra bits) may follow via syms.
func dynamicHeader(w *bitWriter, lit, dist []uint8, syms func(w *bitWriter, cl []uint16)) {
	w.put(1, 1) // final
	w.put(2, 2) // dynamic
	w.put(uint64(len(lit)-257), 5)
	w.put(uint64(len(dist)-1), 5)
	w.put(19-4, 4)
	for _, s := range codeOrder {
		w.put(uint64(clenLens[s]), 3)
	}
	cl := canonical(clenLens)
	if syms != nil {
		syms(w, cl)
		return
	}
	for _, l := range append(append([]uint8{}, lit...), dist...) {
		w.code(cl[l], clenLens[l])
	}
}

// hostileCase is a generated stream and whether it is valid.
type hostileCase struct {
	name  string
	z     []byte
	valid bool
	want  error // the sentinel the error wraps, for invalid streams
}

func hostileCases() []hostileCase {
	var cs []hostileCase
	add := func(name string, z []byte, valid bool, want error) {
		cs = append(cs, hostileCase{name, z, valid, want})
	}
	flit, fdist := fixedLens()
	flc, fdc := canonical(flit), canonical(fdist)
	fixed := func(body func(w *bitWriter)) []byte {
		w := &bitWriter{}
		w.put(1, 1)
		w.put(1, 2)
		body(w)
		w.code(flc[256], flit[256])
		return w.flush()
	}
	lit := func(w *bitWriter, b byte) { w.code(flc[b], flit[b]) }

	// Valid: literals and an overlapping match of every distance 1..8.
	for d := 1; d <= 8; d++ {
		out := []byte("abcdefgh")[:d]
		z := fixed(func(w *bitWriter) {
			for i := range d {
				lit(w, out[i])
			}
			w.code(flc[265], flit[265]) // length 11 + 1 extra bit
			w.put(0, 1)
			dc := d - 1
			if d > 4 {
				dc = 4 + (d-5)/2
			}
			w.code(fdc[dc], 5)
			if d > 4 {
				w.put(uint64((d-5)%2), 1)
			}
		})
		for i := range 11 {
			out = append(out, out[i])
		}
		add("overlap", zlibWrap(z, out), true, nil)
	}
	add("distance beyond output", zlibWrap(fixed(func(w *bitWriter) {
		lit(w, 'a')
		w.code(flc[257], flit[257])
		w.code(fdc[1], 5) // distance 2
	}), nil), false, ErrCorrupt)
	add("literal/length 286", zlibWrap(fixed(func(w *bitWriter) { w.code(flc[286], flit[286]) }), nil), false, ErrCorrupt)
	add("distance code 30", zlibWrap(fixed(func(w *bitWriter) {
		lit(w, 'a')
		w.code(flc[257], flit[257])
		w.code(fdc[30], 5)
	}), nil), false, ErrCorrupt)
	{
		w := &bitWriter{}
		w.put(1, 1)
		w.put(3, 2)
		add("block type 3", zlibWrap(w.flush(), nil), false, ErrCorrupt)
	}
	{
		w := &bitWriter{}
		w.put(1, 1)
		w.put(0, 2)
		b := append(w.flush(), 5, 0, 0xfa, 0xfe, 1, 2, 3, 4, 5)
		add("stored LEN/NLEN mismatch", zlibWrap(b, []byte{1, 2, 3, 4, 5}), false, ErrCorrupt)
		b = append(w.flush()[:1:1], 5, 0, 0xfa, 0xff, 1, 2, 3, 4, 5)
		add("stored", zlibWrap(b, []byte{1, 2, 3, 4, 5}), true, nil)
	}
	{
		// Not final, then nothing: a missing final block.
		w := &bitWriter{}
		w.put(0, 1)
		w.put(1, 2)
		w.code(flc[256], flit[256])
		z := zlibWrap(w.flush(), nil)
		add("no final block", z[:len(z)-4], false, io.ErrUnexpectedEOF)
	}
	good := fixed(func(w *bitWriter) { lit(w, 'x') })
	add("bad checksum", zlibWrap(good, []byte("y")), false, ErrChecksum)
	add("missing checksum", zlibWrap(good, []byte("x"))[:2+len(good)+2], false, io.ErrUnexpectedEOF)
	add("trailing data", append(zlibWrap(good, []byte("x")), 1, 2, 3), true, nil)
	for _, h := range [][2]byte{{0x79, 0x9c}, {0x88, 0x98}, {0x78, 0x9d}} {
		z := zlibWrap(good, []byte("x"))
		z[0], z[1] = h[0], h[1]
		add("bad header", z, false, ErrHeader)
	}
	{
		// CINFO 0 (a 256-byte window) with distances far past 256: zlib
		// does not hold a stream to its header's window, nor do we.
		rng := rand.New(rand.NewPCG(6, 6))
		src := make([]byte, 3000)
		fill(rng, src[:1500])
		copy(src[1500:], src[:1500])
		z := zlibCompress(src, 6)
		z[0], z[1] = 0x08, 0x1d
		add("tiny window header", z, true, nil)
	}
	{
		z := zlibWrap(good, []byte("x"))
		z[1] = 0xbb // FDICT, FCHECK fixed up: (0x78<<8|0xbb)%31 == 0
		add("preset dictionary", append(z[:2:2], append([]byte{0, 0, 0, 2}, z[2:]...)...), false, ErrDictionary)
		add("empty preset dictionary", append(z[:2:2], append([]byte{0, 0, 0, 1}, z[2:]...)...), true, nil)
	}

	// Dynamic blocks: lengths for literals 'a', 'b', EOB and one distance.
	dyn := func(litLens, distLens []uint8, syms func(w *bitWriter, cl []uint16), body func(w *bitWriter, lc, dc []uint16)) []byte {
		w := &bitWriter{}
		dynamicHeader(w, litLens, distLens, syms)
		if body != nil {
			body(w, canonical(litLens), canonical(distLens))
		}
		return w.flush()
	}
	abLens := func() []uint8 {
		l := make([]uint8, 258)
		l['a'], l['b'], l[256], l[257] = 2, 2, 2, 2
		return l
	}
	emit := func(w *bitWriter, lens []uint8, codes []uint16, s int) { w.code(codes[s], lens[s]) }
	{
		ll := abLens()
		dl := []uint8{1} // a single distance code of length 1: accepted
		add("single distance code", zlibWrap(dyn(ll, dl, nil, func(w *bitWriter, lc, dc []uint16) {
			emit(w, ll, lc, 'a')
			emit(w, ll, lc, 257) // length 3
			w.code(0, 1)         // distance 1
			emit(w, ll, lc, 256)
		}), []byte("aaaa")), true, nil)
		add("single distance code, unused codeword", zlibWrap(dyn(ll, dl, nil, func(w *bitWriter, lc, dc []uint16) {
			emit(w, ll, lc, 'a')
			emit(w, ll, lc, 257)
			w.code(1, 1)
			emit(w, ll, lc, 256)
		}), nil), false, ErrCorrupt)
		add("empty distance code, literals only", zlibWrap(dyn(ll, []uint8{0}, nil, func(w *bitWriter, lc, dc []uint16) {
			emit(w, ll, lc, 'b')
			emit(w, ll, lc, 256)
		}), []byte("b")), true, nil)
		add("empty distance code used", zlibWrap(dyn(ll, []uint8{0}, nil, func(w *bitWriter, lc, dc []uint16) {
			emit(w, ll, lc, 'b')
			emit(w, ll, lc, 257)
			w.put(0, 8)
		}), nil), false, ErrCorrupt)
		add("two distance codes of length 2 (incomplete)", zlibWrap(dyn(ll, []uint8{2, 2}, nil, func(w *bitWriter, lc, dc []uint16) {
			emit(w, ll, lc, 256)
		}), nil), false, ErrCorrupt)
		over := abLens()
		over['c'] = 2 // five codes of length 2: over-subscribed
		add("over-subscribed literal/length code", zlibWrap(dyn(over, dl, nil, nil), nil), false, ErrCorrupt)
		inc := abLens()
		inc['b'] = 0 // three codes of length 2: incomplete
		add("incomplete literal/length code", zlibWrap(dyn(inc, dl, nil, nil), nil), false, ErrCorrupt)
		only := make([]uint8, 257)
		only[256] = 1 // a lone end of block in one bit
		add("single literal/length code", zlibWrap(dyn(only, dl, nil, func(w *bitWriter, lc, dc []uint16) {
			w.code(0, 1)
		}), nil), true, nil)
		// Long codes (subtables): 255 literals of length 9... made complete
		// with lengths 8..15.
		long := make([]uint8, 286)
		for i := range long {
			long[i] = 9
		}
		// 286 codes: 226 of 9 bits, then the rest longer to stay complete.
		kraft := func(l []uint8) (s float64) {
			for _, n := range l {
				if n > 0 {
					s += 1 / float64(uint(1)<<n)
				}
			}
			return
		}
		for i := range long {
			long[i] = 8
		}
		for i := 0; kraft(long) > 1; i++ {
			long[i%286]++
		}
		for i := 285; kraft(long) < 1; i-- {
			long[i]--
		}
		if kraft(long) != 1 {
			panic("long codes: not complete")
		}
		{
			lc := canonical(long)
			var out []byte
			rng := rand.New(rand.NewPCG(7, 7))
			add("long codes", zlibWrap(dyn(long, dl, nil, func(w *bitWriter, _, _ []uint16) {
				for range 2000 {
					s := rng.IntN(256)
					w.code(lc[s], long[s])
					out = append(out, byte(s))
				}
				w.code(lc[256], long[256])
			}), out), true, nil)
		}
		zl := make([]uint8, 258)
		zl['a'], zl[256], zl[257] = 1, 2, 2 // the all-zero codeword is a literal
		z := zlibWrap(dyn(zl, dl, nil, func(w *bitWriter, lc, dc []uint16) {
			for range 3 {
				emit(w, zl, lc, 'a')
			}
		}), nil)
		add("truncated where zero bits are literals", z[:len(z)-4], false, io.ErrUnexpectedEOF)
		// Header-level errors.
		add("HLIT 287", zlibWrap(dyn(make([]uint8, 287), dl, func(w *bitWriter, cl []uint16) {}, nil), nil), false, ErrCorrupt)
		add("HDIST 31", zlibWrap(dyn(ll, make([]uint8, 31), func(w *bitWriter, cl []uint16) {}, nil), nil), false, ErrCorrupt)
		add("repeat with no previous length", zlibWrap(dyn(ll, dl, func(w *bitWriter, cl []uint16) {
			w.code(cl[16], clenLens[16])
			w.put(0, 2)
		}, nil), nil), false, ErrCorrupt)
		add("repeat past the code lengths", zlibWrap(dyn(ll, dl, func(w *bitWriter, cl []uint16) {
			for range 3 {
				w.code(cl[18], clenLens[18])
				w.put(127, 7) // 138 zeros
			}
		}, nil), nil), false, ErrCorrupt)
	}
	return cs
}

// TestHostileStreams: every generated hostile stream is refused (with the
// right sentinel) and every valid edge case accepted, as compress/zlib does.
func TestHostileStreams(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, c := range hostileCases() {
		want, werr := reference(c.z)
		if (werr == nil) != c.valid {
			t.Fatalf("%s: compress/zlib says %v; the case is wrong", c.name, werr)
		}
		got, err := inflateAll(rng, c.z, 3)
		if c.valid {
			if err != nil || string(got) != string(want) {
				t.Errorf("%s: %q, %v; want %q", c.name, got, err, want)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if string(got) != string(want) {
			t.Errorf("%s: output before the error %q, compress/zlib's %q", c.name, got[:min(len(got), 16)], want)
		}
		compare(t, rng, c.z)
	}
}
