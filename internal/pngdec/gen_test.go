package pngdec

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
)

// This file generates the test and fuzz inputs: PNG files written by code,
// either by image/png's encoder or by rawPNG, a small writer of any bit
// depth, colour type, tRNS, interlace and filter bytes that image/png's
// encoder never produces.

// chunk appends one PNG chunk with its CRC.
func chunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data))) // #nosec G115 -- test chunks are small
	b = append(b, typ...)
	b = append(b, data...)
	c := crc32.Update(crc32.ChecksumIEEE([]byte(typ)), crc32.IEEETable, data)
	return binary.BigEndian.AppendUint32(b, c)
}

type rawCfg struct {
	w, h, depth, ct int
	interlace       bool
	trns            bool // a tRNS chunk (colour key, or palette alphas)
	plte            int  // palette entries (colour type 3)
	split           int  // IDAT chunk size (0: one chunk)
	extra           bool // ancillary chunks (tEXt, a zTXt that is not valid zlib)
}

func channelsOf(ct int) int {
	return map[int]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ct]
}

// rawPNG writes a PNG of random samples with random filter bytes (any
// filter unfilters any bytes), so every filter and layout path is used.
func rawPNG(rng *rand.Rand, c rawCfg) []byte {
	b := []byte(pngHeader)
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(c.w)) // #nosec G115 -- small test sizes
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(c.h)) // #nosec G115 -- as above
	il := byte(0)
	if c.interlace {
		il = 1
	}
	ihdr = append(ihdr, byte(c.depth), byte(c.ct), 0, 0, il)
	b = chunk(b, "IHDR", ihdr)
	if c.extra {
		b = chunk(b, "tEXt", []byte("Comment\x00made by gen_test.go"))
		b = chunk(b, "zTXt", append([]byte("Bomb\x00\x00"), bytes.Repeat([]byte{0xff}, 64)...))
	}
	if c.ct == 3 {
		p := make([]byte, 3*c.plte)
		fill(rng, p)
		b = chunk(b, "PLTE", p)
	}
	if c.trns {
		var t []byte
		switch c.ct {
		case 0:
			t = []byte{byte(rng.IntN(2)), byte(rng.IntN(1 << c.depth))}
			if c.depth == 16 {
				t = []byte{byte(rng.IntN(4)), byte(rng.IntN(256))}
			}
		case 2:
			t = make([]byte, 6)
			for i := range t {
				t[i] = byte(rng.IntN(4)) // small values: some pixels hit the key
			}
		case 3:
			t = make([]byte, rng.IntN(c.plte+2))
			fill(rng, t)
		}
		b = chunk(b, "tRNS", t)
	}
	bits := c.depth * channelsOf(c.ct)
	var raw []byte
	passes := 1
	if c.interlace {
		passes = 7
	}
	for pass := range passes {
		pw, ph := c.w, c.h
		if c.interlace {
			pw, ph = passSize(c.w, c.h, pass)
		}
		for range ph {
			row := make([]byte, 1+(bits*pw+7)/8)
			fill(rng, row[1:])
			if c.depth < 16 && c.ct != 3 && rng.IntN(2) == 0 {
				for i := range row[1:] {
					row[1+i] &= 3 // small samples so colour keys match
				}
			}
			row[0] = byte(rng.IntN(5))
			raw = append(raw, row...)
		}
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	idat := z.Bytes()
	for len(idat) > 0 {
		n := len(idat)
		if c.split > 0 {
			n = min(n, c.split)
		}
		b = chunk(b, "IDAT", idat[:n])
		idat = idat[n:]
	}
	if c.extra {
		b = chunk(b, "tIME", []byte{7, 234, 12, 7, 2, 0, 0})
	}
	return chunk(b, "IEND", nil)
}

func fill(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

// rawConfigs lists every valid depth and colour type, with and without
// tRNS and interlace.
func rawConfigs(rng *rand.Rand, sizes [][2]int) []rawCfg {
	type dc struct{ d, c int }
	var combos []dc
	for _, d := range []int{1, 2, 4, 8, 16} {
		for _, c := range []int{0, 2, 3, 4, 6} {
			ok := c == 0 || (c == 3 && d <= 8) || (d >= 8 && c != 3)
			if ok {
				combos = append(combos, dc{d, c})
			}
		}
	}
	var out []rawCfg
	for _, sz := range sizes {
		for _, k := range combos {
			for _, il := range []bool{false, true} {
				for _, tr := range []bool{false, true} {
					if tr && (k.c == 4 || k.c == 6) {
						continue
					}
					out = append(out, rawCfg{w: sz[0], h: sz[1], depth: k.d, ct: k.c, interlace: il, trns: tr,
						plte: 1 + rng.IntN(1<<min(k.d, 8)), split: rng.IntN(3) * 7, extra: rng.IntN(2) == 0})
				}
			}
		}
	}
	return out
}

// encoded returns images of every type image/png's encoder writes, encoded.
func encoded(rng *rand.Rand, w, h int) [][]byte {
	r := image.Rect(0, 0, w, h)
	imgs := []image.Image{image.NewGray(r), image.NewGray16(r), image.NewRGBA(r), image.NewNRGBA(r),
		image.NewRGBA64(r), image.NewNRGBA64(r)}
	for _, m := range imgs {
		switch m := m.(type) {
		case *image.Gray:
			fill(rng, m.Pix)
		case *image.Gray16:
			fill(rng, m.Pix)
		case *image.RGBA:
			fill(rng, m.Pix)
			for i := 3; i < len(m.Pix); i += 4 {
				m.Pix[i] = 0xff
			}
		case *image.NRGBA:
			fill(rng, m.Pix)
		case *image.RGBA64:
			fill(rng, m.Pix)
			for i := 6; i < len(m.Pix); i += 8 {
				m.Pix[i], m.Pix[i+1] = 0xff, 0xff
			}
		case *image.NRGBA64:
			fill(rng, m.Pix)
		}
	}
	for _, n := range []int{2, 4, 16, 256} {
		pal := make(color.Palette, n)
		for i := range pal {
			pal[i] = color.NRGBA{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(255 - i%3*100)}
		}
		m := image.NewPaletted(r, pal)
		for i := range m.Pix {
			m.Pix[i] = byte(rng.IntN(n))
		}
		imgs = append(imgs, m)
	}
	var out [][]byte
	for _, m := range imgs {
		for _, lvl := range []png.CompressionLevel{png.NoCompression, png.BestSpeed, png.DefaultCompression} {
			var buf bytes.Buffer
			if err := (&png.Encoder{CompressionLevel: lvl}).Encode(&buf, m); err != nil {
				panic(err)
			}
			out = append(out, buf.Bytes())
		}
	}
	return out
}
