package canon

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// wasmShapes returns opaque, translucent and grey images in a few sizes, with noise.
func wasmShapes(r *rand.Rand) []image.Image {
	var out []image.Image
	for _, sz := range []image.Point{{1, 1}, {3, 7}, {64, 33}, {257, 130}} {
		rect := image.Rect(0, 0, sz.X, sz.Y)
		opaque, alpha, gray := image.NewNRGBA(rect), image.NewNRGBA(rect), image.NewGray(rect)
		for i := range opaque.Pix {
			opaque.Pix[i], alpha.Pix[i] = uint8(r.IntN(256))|uint8(255*(i%4/3)), uint8(r.IntN(256))
		}
		for i := range gray.Pix {
			gray.Pix[i] = uint8(r.IntN(256))
		}
		out = append(out, opaque, alpha, gray)
	}
	return out
}

func encodeWebP(t testing.TB, m image.Image, lossless bool) []byte {
	var b bytes.Buffer
	require.NoError(t, codec.EncodeWebP(&b, m, codec.WebPOptions{Quality: 80, Method: 2, Lossless: lossless}))
	return b.Bytes()
}

func encodeWebPAnim(t testing.TB, frames []image.Image, lossless bool) []byte {
	var b bytes.Buffer
	delays := make([]int, len(frames))
	for i := range delays {
		delays[i] = 40 * (i + 1)
	}
	require.NoError(t, codec.EncodeWebPAnimation(&b, frames, delays, 0, codec.WebPOptions{Quality: 80, Method: 2, Lossless: lossless}))
	return b.Bytes()
}

func encodeAVIF(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	require.NoError(t, codec.EncodeAVIF(&b, m, codec.AVIFOptions{Quality: 60, Speed: 10}))
	return b.Bytes()
}

// TestAcceptsOurWasmEncoders checks WebP and AVIF against libwebp's and libavif's own
// output: still (lossy, lossless, alpha, grey) and animated WebP, opaque and alpha AVIF.
func TestAcceptsOurWasmEncoders(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	shapes := wasmShapes(r)
	for _, m := range shapes {
		b := m.Bounds()
		for _, lossless := range []bool{false, true} {
			w, h, n, err := WebP(encodeWebP(t, m, lossless))
			require.NoError(t, err, "webp %T %v lossless=%t", m, b, lossless)
			assert.Equal(t, [3]int{b.Dx(), b.Dy(), 1}, [3]int{w, h, n})
		}
		w, h, err := AVIF(encodeAVIF(t, m))
		require.NoError(t, err, "avif %T %v", m, b)
		assert.Equal(t, [2]int{b.Dx(), b.Dy()}, [2]int{w, h})
	}
	for i := 0; i+2 < len(shapes); i += 3 { // same-sized opaque, alpha, grey
		for _, lossless := range []bool{false, true} {
			frames := shapes[i : i+3]
			b := frames[0].Bounds()
			w, h, n, err := WebP(encodeWebPAnim(t, frames, lossless))
			require.NoError(t, err, "animated webp %v lossless=%t", b, lossless)
			assert.Equal(t, [3]int{b.Dx(), b.Dy(), 3}, [3]int{w, h, n})
			w, h, n, err = WebP(encodeWebPAnim(t, []image.Image{frames[0], frames[0]}, lossless))
			require.NoError(t, err, "animated opaque webp %v lossless=%t", b, lossless)
			assert.Equal(t, [2]int{b.Dx(), b.Dy()}, [2]int{w, h})
			assert.LessOrEqual(t, n, 2)
		}
	}
}

// riffChunk builds a RIFF chunk, padded to an even length.
func riffChunkBytes(typ string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint32([]byte(typ), uint32(len(data)))
	b = append(b, data...)
	if len(data)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// riff wraps chunks in a RIFF WEBP header of the right size.
func riff(chunks ...[]byte) []byte {
	body := append([]byte("WEBP"), bytes.Join(chunks, nil)...)
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

// chunksOf splits a WebP into its top-level chunks, re-encoded.
func chunksOf(t testing.TB, b []byte) [][]byte {
	c, err := riffChunks(b[12:])
	require.NoError(t, err)
	var out [][]byte
	for _, x := range c {
		out = append(out, riffChunkBytes(x.typ, x.data))
	}
	return out
}

// TestRefusesWebP checks that each piece libwebp never writes for us is refused: metadata
// chunks (EXIF, XMP, ICCP) and their VP8X flags, unknown chunks, bytes after the RIFF, a
// RIFF or chunk size that lies, bad padding, frames outside the canvas, a canvas that
// disagrees with its bitstream.
func TestRefusesWebP(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	shapes := wasmShapes(r)
	opaque, alpha := shapes[6], shapes[7] // 64x33
	lossy := encodeWebP(t, opaque, false)
	withAlpha := encodeWebP(t, alpha, false)
	anim := encodeWebPAnim(t, shapes[6:9], false)
	exif := riffChunkBytes("EXIF", []byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x00\x00"))
	xmp := riffChunkBytes("XMP ", []byte("<x:xmpmeta/>"))
	iccp := riffChunkBytes("ICCP", make([]byte, 128))
	unknown := riffChunkBytes("ZZZZ", []byte("payload"))

	// Sanity: the builders rebuild our own files byte for byte.
	for _, b := range [][]byte{lossy, withAlpha, anim} {
		require.Equal(t, b, riff(chunksOf(t, b)...))
		_, _, _, err := WebP(b)
		require.NoError(t, err)
	}
	c, ca, cn := chunksOf(t, lossy), chunksOf(t, withAlpha), chunksOf(t, anim)
	vp8xFlags := func(x []byte, flags byte) []byte {
		x = bytes.Clone(x)
		x[8] |= flags
		return x
	}
	withSize := func(b []byte, n uint32) []byte {
		b = bytes.Clone(b)
		binary.LittleEndian.PutUint32(b[4:], n)
		return b
	}
	frameAt := func(x, y uint32) []byte { // the first frame moved by (x, y) pixels
		f := bytes.Clone(cn[2])
		f[8], f[11] = byte(x/2), byte(y/2)
		return riff(append(append([][]byte{cn[0], cn[1]}, f), cn[3:]...)...)
	}
	odd := riffChunkBytes("VP8L", []byte{0x2f, 0, 0, 0, 0, 0, 0})
	odd[len(odd)-1] = 1
	cases := map[string][]byte{
		"trailing bytes":                append(bytes.Clone(lossy), "PK\x03\x04"...),
		"trailing zero":                 append(bytes.Clone(lossy), 0, 0),
		"riff size short":               withSize(lossy, uint32(len(lossy)-10)),
		"riff size long":                withSize(lossy, uint32(len(lossy)-6)),
		"exif after vp8":                riff(c[0], exif),
		"unknown after vp8":             riff(c[0], unknown),
		"two bitstreams":                riff(c[0], c[0]),
		"vp8x exif flag and chunk":      riff(vp8xFlags(ca[0], 0x08), ca[1], ca[2], exif),
		"vp8x exif chunk":               riff(ca[0], ca[1], ca[2], exif),
		"vp8x xmp flag and chunk":       riff(vp8xFlags(ca[0], 0x04), ca[1], ca[2], xmp),
		"vp8x iccp flag and chunk":      riff(vp8xFlags(ca[0], 0x20), iccp, ca[1], ca[2]),
		"vp8x unknown chunk":            riff(ca[0], unknown, ca[1], ca[2]),
		"vp8x without alph":             riff(ca[0], ca[2]),
		"vp8x canvas larger":            riff(append(bytes.Clone(ca[0][:12]), 0x40, 0, 0, 0x20, 0, 0), ca[1], ca[2]),
		"anim exif flag and chunk":      riff(append(append([][]byte{vp8xFlags(cn[0], 0x08)}, cn[1:]...), exif)...),
		"anim exif after frames":        riff(append(append([][]byte(nil), cn...), exif)...),
		"anim unknown chunk in a frame": riff(append([][]byte{cn[0], cn[1], riffChunkBytes("ANMF", append(bytes.Clone(cn[2][8:]), unknown...))}, cn[3:]...)...),
		"anim frame outside canvas":     frameAt(64, 0),
		"anim frame below canvas":       frameAt(0, 34),
		"anim without anim chunk":       riff(append([][]byte{cn[0]}, cn[2:]...)...),
		"odd chunk padded with 1":       riff(odd),
		"chunk size beyond riff":        riff(append(binary.LittleEndian.AppendUint32([]byte("VP8 "), 1<<20), c[0][8:]...)),
	}
	for name, b := range cases {
		_, _, _, err := WebP(b)
		assert.ErrorIs(t, err, ErrNotCanonical, name)
	}
}

// isoBoxBytes builds an ISOBMFF box.
func isoBoxBytes(typ string, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	return append(binary.BigEndian.AppendUint32(nil, uint32(8+len(body))), append([]byte(typ), body...)...)
}

// avifParts is an AVIF taken apart: ftyp, meta's children but iloc, the items' data (item
// i+1 is items[i]), in the order of iloc.
type avifParts struct {
	ftyp  []byte
	kids  [][]byte // meta's children, with nil where iloc goes
	items [][]byte
	ids   []uint16
	lead  []byte // mdat bytes before the items: none in libavif's files
}

func splitAVIF(t testing.TB, b []byte) avifParts {
	top, err := isoBoxes(b)
	require.NoError(t, err)
	var p avifParts
	p.ftyp = isoBoxBytes("ftyp", top[0].data)
	kids, err := isoBoxes(top[1].data[4:])
	require.NoError(t, err)
	for _, k := range kids {
		if k.typ == "iloc" {
			p.kids = append(p.kids, nil)
			n := int(binary.BigEndian.Uint16(k.data[6:]))
			for i := range n {
				e := k.data[8+14*i:]
				off, l := binary.BigEndian.Uint32(e[6:]), binary.BigEndian.Uint32(e[10:])
				p.ids = append(p.ids, binary.BigEndian.Uint16(e))
				p.items = append(p.items, b[off:off+l])
			}
			continue
		}
		p.kids = append(p.kids, isoBoxBytes(k.typ, k.data))
	}
	return p
}

// build lays p out as libavif does: mdat holds the items last to first.
func (p avifParts) build() []byte {
	iloc := func(offs []uint32) []byte {
		b := []byte{0, 0, 0, 0, 0x44, 0}
		b = binary.BigEndian.AppendUint16(b, uint16(len(p.items)))
		for i, it := range p.items {
			b = binary.BigEndian.AppendUint16(b, p.ids[i])
			b = append(b, 0, 0, 0, 1)
			b = binary.BigEndian.AppendUint32(b, offs[i])
			b = binary.BigEndian.AppendUint32(b, uint32(len(it)))
		}
		return isoBoxBytes("iloc", b)
	}
	meta := func(offs []uint32) []byte {
		var kids [][]byte
		for _, k := range p.kids {
			if k == nil {
				k = iloc(offs)
			}
			kids = append(kids, k)
		}
		return isoBoxBytes("meta", append([][]byte{{0, 0, 0, 0}}, kids...)...)
	}
	offs := make([]uint32, len(p.items))
	at := uint32(len(p.ftyp) + len(meta(offs)) + 8 + len(p.lead))
	mdat := [][]byte{p.lead}
	for i := len(p.items) - 1; i >= 0; i-- {
		offs[i] = at
		at += uint32(len(p.items[i]))
		mdat = append(mdat, p.items[i])
	}
	return append(append(bytes.Clone(p.ftyp), meta(offs)...), isoBoxBytes("mdat", mdat...)...)
}

// TestRefusesAVIF checks that each piece libavif never writes for us is refused: an Exif,
// XMP (mime) or extra item, an extra property, a grid, a missing iref, bytes after mdat or
// between items, a box size that lies, an extent outside mdat, foreign brands.
func TestRefusesAVIF(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	shapes := wasmShapes(r)
	opaque, alpha := encodeAVIF(t, shapes[6]), encodeAVIF(t, shapes[7])
	for _, b := range [][]byte{opaque, alpha} {
		require.Equal(t, b, splitAVIF(t, b).build(), "the builder rebuilds libavif's layout")
		_, _, err := AVIF(b)
		require.NoError(t, err)
	}
	const (
		hdlr = iota
		pitm
		iloc
		iinf
	)
	mutate := func(b []byte, f func(p *avifParts)) []byte {
		p := splitAVIF(t, b)
		f(&p)
		return p.build()
	}
	addItem := func(typ, name string, data []byte) func(p *avifParts) {
		return func(p *avifParts) {
			payload := p.kids[iinf][8:]
			inf, err := isoBoxes(payload[6:])
			require.NoError(t, err)
			n := binary.BigEndian.Uint16(payload[4:]) + 1
			body := binary.BigEndian.AppendUint16([]byte{0, 0, 0, 0}, n)
			for _, x := range inf {
				body = append(body, isoBoxBytes(x.typ, x.data)...)
			}
			body = append(body, isoBoxBytes("infe", append(binary.BigEndian.AppendUint16([]byte{2, 0, 0, 0}, uint16(len(p.items)+1)), append([]byte{0, 0}, typ+name+"\x00"...)...))...)
			p.kids[iinf] = isoBoxBytes("iinf", body)
			p.ids = append(p.ids, uint16(len(p.items)+1))
			p.items = append(p.items, data)
		}
	}
	withKid := func(i int, box []byte) func(p *avifParts) {
		return func(p *avifParts) { p.kids[i] = box }
	}
	replaceIpco := func(extra []byte) func(p *avifParts) {
		return func(p *avifParts) {
			last := len(p.kids) - 1
			iprp, err := isoBoxes(p.kids[last][8:])
			require.NoError(t, err)
			ipco := isoBoxBytes("ipco", iprp[0].data, extra)
			p.kids[last] = isoBoxBytes("iprp", ipco, isoBoxBytes("ipma", iprp[1].data))
		}
	}
	setU32 := func(b []byte, at int, v uint32) []byte {
		b = bytes.Clone(b)
		binary.BigEndian.PutUint32(b[at:], v)
		return b
	}
	metaAt := len(splitAVIF(t, opaque).ftyp)
	mdatAt := metaAt + int(binary.BigEndian.Uint32(opaque[metaAt:]))
	extentAt := bytes.Index(opaque, []byte("iloc")) + 4 + 8 + 6 // item 1's extent: offset, length
	extent := func(off, l int) []byte {
		b := bytes.Clone(opaque)
		binary.BigEndian.PutUint32(b[extentAt:], uint32(int(binary.BigEndian.Uint32(b[extentAt:]))+off))
		binary.BigEndian.PutUint32(b[extentAt+4:], uint32(int(binary.BigEndian.Uint32(b[extentAt+4:]))+l))
		return b
	}
	exif := append([]byte{0, 0, 0, 6}, "Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x00"...)
	cases := map[string][]byte{
		"trailing bytes":       append(bytes.Clone(opaque), "PK\x03\x04"...),
		"box after mdat":       append(bytes.Clone(opaque), isoBoxBytes("free", []byte("x"))...),
		"bytes outside items":  mutate(opaque, func(p *avifParts) { p.lead = []byte("PK\x03\x04") }),
		"bytes before 2 items": mutate(alpha, func(p *avifParts) { p.lead = []byte{0} }),
		"exif item":            mutate(opaque, addItem("Exif", "", exif)),
		"xmp mime item":        mutate(opaque, addItem("mime", "\x00application/rdf+xml", []byte("<x:xmpmeta/>"))),
		"second color item":    mutate(opaque, addItem("av01", "Color", opaque[len(opaque)-40:])),
		"exif item with alpha": mutate(alpha, addItem("Exif", "", exif)),
		"grid item type":       mutate(opaque, withKid(iinf, bytes.ReplaceAll(splitAVIF(t, opaque).kids[iinf], []byte("av01"), []byte("grid")))),
		"pitm item 2":          mutate(opaque, withKid(pitm, isoBoxBytes("pitm", []byte{0, 0, 0, 0, 0, 2}))),
		"hdlr name":            mutate(opaque, withKid(hdlr, isoBoxBytes("hdlr", append(bytes.Clone(avifHdlr[:len(avifHdlr)-1]), "evil\x00"...)))),
		"alpha without iref":   mutate(alpha, func(p *avifParts) { p.kids = append(p.kids[:4], p.kids[5:]...) }),
		"extra property":       mutate(opaque, replaceIpco(isoBoxBytes("irot", []byte{1}))),
		"extra meta box":       mutate(opaque, func(p *avifParts) { p.kids = append(p.kids, isoBoxBytes("idat", []byte("hello"))) }),
		"meta size lies long":  setU32(opaque, metaAt, binary.BigEndian.Uint32(opaque[metaAt:])+4),
		"meta size lies short": setU32(opaque, metaAt, binary.BigEndian.Uint32(opaque[metaAt:])-4),
		"mdat size lies":       setU32(opaque, mdatAt, binary.BigEndian.Uint32(opaque[mdatAt:])-1),
		"mdat size to the end": setU32(opaque, mdatAt, 0),
		"extent beyond mdat":   extent(0, 1),
		"extent short of mdat": extent(0, -1),
		"extent before mdat":   extent(-1, 1),
		"extent in meta":       extent(-100, 0),
		"foreign brand":        bytes.Replace(opaque, []byte("MA1B"), []byte("heic"), 1),
		"ftyp major brand":     bytes.Replace(opaque, []byte("ftypavif"), []byte("ftypavis"), 1),
	}
	for name, b := range cases {
		_, _, err := AVIF(b)
		assert.ErrorIs(t, err, ErrNotCanonical, name)
	}
}

// FuzzWasmLayouts feeds the WebP and AVIF checks, which the host runs on a worker's
// untrusted answer, arbitrary bytes seeded with libwebp's and libavif's output. They never
// panic; what one accepts has a positive size (and a frame count of at least 1 for WebP),
// and nothing appended to an accepted file is ever accepted.
func FuzzWasmLayouts(f *testing.F) {
	// Seeds built by code, no encoder call (each fuzzing process would pay the AVIF
	// module's compilation): a VP8L still, the same as an animation's frame, a HEIF
	// container with libavif's box names.
	vp8l := fixture.WebPLossless(3, 7, color.NRGBA{1, 2, 3, 128})
	f.Add(vp8l)
	frame := append([]byte{0, 0, 0, 0, 0, 0, 2, 0, 0, 6, 0, 0, 100, 0, 0, 2}, vp8l[12:]...)
	f.Add(riff(riffChunkBytes("VP8X", []byte{0x12, 0, 0, 0, 2, 0, 0, 6, 0, 0}), riffChunkBytes("ANIM", make([]byte, 6)),
		riffChunkBytes("ANMF", frame)))
	f.Add(fixture.AVIFFile(3, 7).Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		if w, h, n, err := WebP(b); err == nil {
			if w <= 0 || h <= 0 || n < 1 {
				t.Fatalf("webp accepted at %dx%d, %d frames", w, h, n)
			}
			if _, _, _, err := WebP(append(bytes.Clone(b), 0, 0)); err == nil {
				t.Fatal("webp accepted with bytes appended")
			}
		} else if !errors.Is(err, ErrNotCanonical) {
			t.Fatalf("webp: %v", err)
		}
		if w, h, err := AVIF(b); err == nil {
			if w <= 0 || h <= 0 {
				t.Fatalf("avif accepted at %dx%d", w, h)
			}
			if _, _, err := AVIF(append(bytes.Clone(b), 0, 0, 0, 8)); err == nil {
				t.Fatal("avif accepted with bytes appended")
			}
		} else if !errors.Is(err, ErrNotCanonical) {
			t.Fatalf("avif: %v", err)
		}
	})
}
