package canon

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shapes returns images of every type the encoders take, in a few sizes, with noise so
// that the entropy-coded data holds 0xFF bytes and the IDAT stream spans chunks.
func shapes(r *rand.Rand) []image.Image {
	var out []image.Image
	for _, sz := range []image.Point{{1, 1}, {3, 7}, {17, 16}, {64, 33}, {300, 220}} {
		rect := image.Rect(0, 0, sz.X, sz.Y)
		gray, gray16 := image.NewGray(rect), image.NewGray16(rect)
		rgba, nrgba, rgba64 := image.NewRGBA(rect), image.NewNRGBA(rect), image.NewNRGBA64(rect)
		opaque := image.NewRGBA(rect)
		for i := range gray.Pix {
			gray.Pix[i] = uint8(r.IntN(256))
		}
		for i := range gray16.Pix {
			gray16.Pix[i] = uint8(r.IntN(256))
		}
		for i := range rgba.Pix {
			rgba.Pix[i], nrgba.Pix[i], opaque.Pix[i] = uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256))|uint8(255*(i%4/3))
		}
		for i := range rgba64.Pix {
			rgba64.Pix[i] = uint8(r.IntN(256))
		}
		ycc := image.NewYCbCr(rect, image.YCbCrSubsampleRatio420)
		for i := range ycc.Y {
			ycc.Y[i] = uint8(r.IntN(256))
		}
		out = append(out, gray, gray16, rgba, nrgba, rgba64, opaque, ycc)
		for _, n := range []int{1, 2, 4, 16, 200, 256} {
			pal := append(color.Palette(nil), palette.Plan9[:n]...)
			if n > 2 {
				pal[1] = color.NRGBA{1, 2, 3, 0} // transparent: tRNS, GCE transparency
			}
			p := image.NewPaletted(rect, pal)
			for i := range p.Pix {
				p.Pix[i] = uint8(r.IntN(n))
			}
			out = append(out, p)
		}
	}
	return out
}

func encodePNG(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, m))
	return b.Bytes()
}

func encodeJPEG(t testing.TB, m image.Image, q int) []byte {
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, m, &jpeg.Options{Quality: q}))
	return b.Bytes()
}

func encodeGIF(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	require.NoError(t, gif.Encode(&b, m, &gif.Options{NumColors: 256}))
	return b.Bytes()
}

// animation encodes n frames as the root package's encodeAnimation does: local palettes,
// background disposal, delays, a loop count (-1 writes no looping extension).
func animation(t testing.TB, r *rand.Rand, w, h, n, loop int) []byte {
	g := &gif.GIF{LoopCount: loop, Config: image.Config{Width: w, Height: h}}
	for range n {
		pal := append(color.Palette(nil), palette.Plan9[:2+r.IntN(254)]...)
		pal = append(pal, color.Transparent)
		p := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		for i := range p.Pix {
			p.Pix[i] = uint8(r.IntN(len(pal)))
		}
		g.Image = append(g.Image, p)
		g.Delay = append(g.Delay, r.IntN(300))
		g.Disposal = append(g.Disposal, gif.DisposalBackground)
	}
	var b bytes.Buffer
	require.NoError(t, gif.EncodeAll(&b, g))
	return b.Bytes()
}

// TestAcceptsOurEncoders checks every check against the standard encoders' own output.
func TestAcceptsOurEncoders(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, m := range shapes(r) {
		b := m.Bounds()
		w, h, err := PNG(encodePNG(t, m))
		require.NoError(t, err, "png %T %v", m, b)
		assert.Equal(t, [2]int{b.Dx(), b.Dy()}, [2]int{w, h})
		for _, q := range []int{1, 2, 50, 82, 100} {
			w, h, err = JPEG(encodeJPEG(t, m, q), q)
			require.NoError(t, err, "jpeg %T %v q%d", m, b, q)
			assert.Equal(t, [2]int{b.Dx(), b.Dy()}, [2]int{w, h})
		}
		w, h, n, err := GIF(encodeGIF(t, m))
		require.NoError(t, err, "gif %T %v", m, b)
		assert.Equal(t, [3]int{b.Dx(), b.Dy(), 1}, [3]int{w, h, n})
	}
	for _, loop := range []int{-1, 0, 3} {
		w, h, n, err := GIF(animation(t, r, 40, 30, 3, loop))
		require.NoError(t, err, "animation, loop %d", loop)
		assert.Equal(t, [3]int{40, 30, 3}, [3]int{w, h, n})
	}
}

// chunk builds a PNG chunk with its CRC.
func chunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(append(b, typ...), data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// insertPNG puts c before the chunk at offset 33 (right after IHDR) or before IEND.
func insertPNG(b, c []byte, beforeIEND bool) []byte {
	at := 8 + 25
	if beforeIEND {
		at = len(b) - 12
	}
	return append(append(append([]byte(nil), b[:at]...), c...), b[at:]...)
}

func TestRefusesPNG(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 20, 10))
	ok := encodePNG(t, m)
	pal := encodePNG(t, image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black, color.Transparent}))
	_, _, err := PNG(pal)
	require.NoError(t, err)
	zip := []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00")
	flip := func(b []byte, i int, v byte) []byte { b = bytes.Clone(b); b[i] = v; return b }
	ihdr := func(depth, ct, interlace byte) []byte {
		d := []byte{0, 0, 0, 20, 0, 0, 0, 10, depth, ct, 0, 0, interlace}
		return append(append([]byte(pngSignature), chunk("IHDR", d)...), ok[33:]...)
	}
	for name, b := range map[string][]byte{
		"zip after IEND":      append(bytes.Clone(ok), zip...),
		"one byte after":      append(bytes.Clone(ok), 0),
		"tEXt":                insertPNG(ok, chunk("tEXt", []byte("Comment\x00<script>")), false),
		"iTXt before IEND":    insertPNG(ok, chunk("iTXt", []byte("k\x00\x00\x00\x00\x00x")), true),
		"private chunk":       insertPNG(ok, chunk("prVt", []byte("payload")), true),
		"second IHDR":         insertPNG(ok, ok[8:33], false),
		"empty IDAT":          insertPNG(ok, chunk("IDAT", nil), true),
		"PLTE in truecolour":  insertPNG(ok, chunk("PLTE", []byte{1, 2, 3}), false),
		"tRNS in truecolour":  insertPNG(ok, chunk("tRNS", []byte{0, 0, 0, 0, 0, 0}), false),
		"bad CRC":             flip(ok, len(ok)-13, ok[len(ok)-13]^1),
		"no IEND":             ok[:len(ok)-12],
		"no signature":        ok[8:],
		"interlaced":          ihdr(8, 6, 1),
		"grey+alpha":          ihdr(8, 4, 0),
		"16-bit paletted":     ihdr(16, 3, 0),
		"IEND with data":      append(bytes.Clone(ok[:len(ok)-12]), chunk("IEND", []byte{0})...),
		"truncated":           ok[:40],
		"palette, tRNS twice": insertPNG(pal, chunk("tRNS", []byte{0}), true),
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := PNG(b)
			require.ErrorIs(t, err, ErrNotCanonical)
			assert.NotContains(t, err.Error(), "<script")
		})
	}
}

func TestRefusesJPEG(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 40, 24))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 7)
	}
	ok := encodeJPEG(t, m, 82)
	at := func(b []byte, i int, ins []byte) []byte {
		return append(append(append([]byte(nil), b[:i]...), ins...), b[i:]...)
	}
	com := []byte("\xff\xfe\x00\x0a<script>")
	app1 := []byte("\xff\xe1\x00\x08Exif\x00\x00")
	sos := bytes.Index(ok, []byte{0xff, 0xda})
	for name, b := range map[string][]byte{
		"zip after EOI":         append(bytes.Clone(ok), "PK\x03\x04"...),
		"COM after SOI":         at(ok, 2, com),
		"APP1 after SOI":        at(ok, 2, app1),
		"COM before SOS":        at(ok, sos, com),
		"COM before EOI":        at(ok, len(ok)-2, com),
		"restart marker":        at(ok, len(ok)-2, []byte{0xff, 0xd0}),
		"other quality":         encodeJPEG(t, m, 83),
		"no EOI":                ok[:len(ok)-2],
		"zero height":           func() []byte { b := bytes.Clone(ok); b[141], b[142] = 0, 0; return b }(),
		"progressive":           func() []byte { b := bytes.Clone(ok); b[137] = 0xc2; return b }(),
		"truncated":             ok[:100],
		"not a jpeg":            []byte("<svg/>"),
		"lone 0xff in the data": at(ok, len(ok)-2, []byte{0xff}),
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := JPEG(b, 82)
			require.ErrorIs(t, err, ErrNotCanonical)
			assert.NotContains(t, err.Error(), "<script")
		})
	}
}

func TestRefusesGIF(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	p := image.NewPaletted(image.Rect(0, 0, 20, 10), palette.Plan9)
	ok := encodeGIF(t, p)
	anim := animation(t, r, 20, 10, 2, 0)
	at := func(b []byte, i int, ins string) []byte {
		return append(append(append([]byte(nil), b[:i]...), ins...), b[i:]...)
	}
	desc := 13 + 3*256 // the image descriptor of ok
	require.Equal(t, byte(0x2c), ok[desc])
	for name, b := range map[string][]byte{
		"zip after trailer":      append(bytes.Clone(ok), "PK\x03\x04"...),
		"comment":                at(ok, desc, "\x21\xfe\x08<script>\x00"),
		"comment before trailer": at(ok, len(ok)-1, "\x21\xfe\x01x\x00"),
		"plain text":             at(ok, desc, "\x21\x01\x0c"+string(make([]byte, 12))+"\x01x\x00"),
		"other application":      at(ok, desc, "\x21\xff\x0bXMP DataXMP\x01x\x00"),
		"looping, one frame":     at(ok, desc, netscapeLoop+"\x00\x00\x00"),
		"looping, late":          at(anim, len(anim)-1, netscapeLoop+"\x00\x00\x00"),
		"GCE with no image":      at(ok, len(ok)-1, "\x21\xf9\x04\x00\x00\x00\x00\x00"),
		"GIF87a":                 append([]byte("GIF87a"), ok[6:]...),
		"interlaced":             func() []byte { b := bytes.Clone(ok); b[desc+9] |= 0x40; return b }(),
		"frame off screen":       func() []byte { b := bytes.Clone(ok); b[desc+1] = 1; return b }(),
		"no trailer":             ok[:len(ok)-1],
		"aspect ratio":           func() []byte { b := bytes.Clone(ok); b[12] = 1; return b }(),
		"no frame":               append(bytes.Clone(ok[:desc]), 0x3b),
	} {
		t.Run(name, func(t *testing.T) {
			_, _, _, err := GIF(b)
			require.ErrorIs(t, err, ErrNotCanonical)
			assert.NotContains(t, err.Error(), "<script")
		})
	}
}

// FuzzAcceptsOurEncoders encodes small random images in every format and asserts that
// the checks accept them and report their size.
func FuzzAcceptsOurEncoders(f *testing.F) {
	f.Add(uint16(1), uint16(1), uint8(0), uint8(82), uint64(1))
	f.Add(uint16(300), uint16(7), uint8(3), uint8(1), uint64(2))
	f.Fuzz(func(t *testing.T, w, h uint16, kind, q uint8, seed uint64) {
		w, h = w%200+1, h%200+1
		r := rand.New(rand.NewPCG(seed, 0))
		rect := image.Rect(0, 0, int(w), int(h))
		var img image.Image
		var pix []uint8
		switch kind % 5 {
		case 0:
			g := image.NewGray(rect)
			img, pix = g, g.Pix
		case 1:
			g := image.NewGray16(rect)
			img, pix = g, g.Pix
		case 2:
			y := image.NewYCbCr(rect, image.YCbCrSubsampleRatio420)
			img, pix = y, y.Y
		case 3:
			n := image.NewNRGBA(rect)
			img, pix = n, n.Pix
		default:
			pal := append(color.Palette{color.Transparent}, palette.Plan9[:1+int(kind)%255]...)
			p := image.NewPaletted(rect, pal)
			for i := range p.Pix {
				p.Pix[i] = uint8(r.IntN(len(pal)))
			}
			img = p
		}
		for i := range pix {
			pix[i] = uint8(r.IntN(256))
		}
		pw, ph, err := PNG(encodePNG(t, img))
		require.NoError(t, err)
		quality := int(q)%100 + 1
		jw, jh, err := JPEG(encodeJPEG(t, img, quality), quality)
		require.NoError(t, err)
		gw, gh, _, err := GIF(encodeGIF(t, img))
		require.NoError(t, err)
		want := [2]int{int(w), int(h)}
		assert.Equal(t, [3][2]int{want, want, want}, [3][2]int{{pw, ph}, {jw, jh}, {gw, gh}})
	})
}
