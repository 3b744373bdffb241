package fastimagecache

import (
	"encoding/binary"
)

// This file sizes what each pure-Go decoder allocates for an image, from its header
// alone, by the decoders' own code: each number says where in that code it comes from.
// Small fixed costs (decoder structs, zlib and LZW state, bufio buffers, palettes) are
// left to decodeOverhead unless they repeat per frame or per pixel.

// pngLayout is what the chunks before IDAT say about the image image/png will build.
type pngLayout struct {
	colorType, depth byte
	interlaced       bool
	trns             bool // a tRNS chunk: grey and truecolour images decode with alpha
}

// scanPNGLayout reads IHDR and walks the chunks up to the first IDAT. image/png accepts
// tRNS only before IDAT (parseChunk's stage checks), so the walk sees every chunk that
// decides the decoded type. A walk that cannot reach IDAT (a length running off the
// data) assumes a tRNS: the estimate must never be below the decoder's image.
func scanPNGLayout(data []byte) pngLayout {
	const sig = 8
	var l pngLayout
	if len(data) < sig+8+13 {
		return pngLayout{colorType: 6, depth: 16, trns: true}
	}
	ihdr := data[sig+8:]
	l.depth, l.colorType, l.interlaced = ihdr[8], ihdr[9], ihdr[12] != 0
	for pos := sig; ; {
		if len(data)-pos < 8 {
			l.trns = true
			return l
		}
		n := int64(binary.BigEndian.Uint32(data[pos:]))
		switch string(data[pos+4 : pos+8]) {
		case "IDAT":
			return l
		case "tRNS":
			l.trns = true
			return l
		}
		if n > int64(len(data)-pos-12) {
			l.trns = true
			return l
		}
		pos += 12 + int(n) // length, type, data, CRC
	}
}

// pngPixelBytes is the size of one pixel of the image readImagePass (image/png
// reader.go) allocates for l: Gray, Paletted 1; Gray16 2; RGBA, NRGBA 4; RGBA64,
// NRGBA64 8; a tRNS chunk turns Gray into NRGBA, Gray16 into NRGBA64, RGBA into NRGBA
// and RGBA64 into NRGBA64.
func (l pngLayout) pixelBytes() int64 {
	wide := l.depth == 16
	switch l.colorType {
	case 0: // grey
		switch {
		case wide && l.trns:
			return 8
		case wide:
			return 2
		case l.trns:
			return 4
		}
		return 1
	case 3: // palette
		return 1
	case 2, 4, 6: // truecolour, grey+alpha, truecolour+alpha
		if wide {
			return 8
		}
		return 4
	}
	return 8 // not a valid PNG: image/png will refuse it; assume the widest
}

// bitsPerPixel is the packed sample size of one pixel in the PNG stream.
func (l pngLayout) bitsPerPixel() int64 {
	ch := int64(1)
	switch l.colorType {
	case 2:
		ch = 3
	case 4:
		ch = 2
	case 6:
		ch = 4
	}
	return ch * int64(l.depth)
}

// pngDecodeBytes is what png.Decode allocates for a w×h image of layout l: the image,
// and per pass the current and previous rows (cr, pr: 1 + (bitsPerPixel*width+7)/8
// bytes each). An Adam7 image is allocated at full size first, then each pass decodes
// into an image of its own that is merged into it (decode, readImagePass).
func pngDecodeBytes(l pngLayout, w, h int) int64 {
	pb := l.pixelBytes()
	rows := func(pw int) int64 { return 2 * (1 + (l.bitsPerPixel()*int64(pw)+7)/8) }
	if !l.interlaced {
		return pb*int64(w)*int64(h) + rows(w)
	}
	n := pb * int64(w) * int64(h)
	for _, p := range [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}} {
		pw := (w - p[0] + p[2] - 1) / p[2]
		ph := (h - p[1] + p[3] - 1) / p[3]
		if pw > 0 && ph > 0 {
			n += pb*int64(pw)*int64(ph) + rows(pw)
		}
	}
	return n
}

// vp8Bytes is what x/image/vp8 allocates for a w×h key frame held in a chunk of
// chunkLen bytes: a 4:2:0 YCbCr image padded to whole macroblocks (384 bytes per 16×16
// macroblock), a filterParam (4 bytes) per macroblock and an mb (8 bytes) per
// macroblock column (ensureImg), and copies of both partitions (parseOtherHeaders,
// parseOtherPartitions), which together are at most the chunk.
func vp8Bytes(w, h int, chunkLen int64) int64 {
	mbw, mbh := int64(w+15)/16, int64(h+15)/16
	return (384+4)*mbw*mbh + 8*mbw + chunkLen
}

// vp8lBytes bounds what x/image/vp8l allocates for a w×h image: the transformed pixels
// (decodePix, 4 bytes per pixel at most), and when a colour-indexing transform of at
// most 16 colours packed them (2 to 8 pixels a word, so at most 4*ceil(w/2)*h bytes)
// the full-size NRGBA image they are unpacked into (inverseColorIndexing; with more
// colours it works in place): 6 bytes per pixel in all; the predictor, cross-colour and meta-prefix-code images at
// their smallest 4×4 tiles (4 bytes per tile each), and the prefix code groups
// (decodeHuffmanGroups): at most one per tile and never more than 2600
// (maxHuffImageSize), each five hTrees (536 bytes) with at most 2*alphabet-1 8-byte
// nodes over alphabets of 280+2048 (with the largest colour cache), 256, 256, 256 and
// 40 symbols. The groups also cost input: a tree takes at least 4 bits (a simple code)
// and, to hold n symbols, about 21 bits (a code-length code of one symbol, then
// max_symbol), while it allocates its nodes (16n bytes) and, read, two 4-byte slices
// per alphabet symbol: 32 KiB per byte of the stream (streamLen) bounds them too. A
// real encoder's file hits the 2600-group bound; a tiny hostile one, the input bound.
func vp8lBytes(w, h int, streamLen int64) int64 {
	px := int64(w) * int64(h)
	tiles := (int64(w) + 3) / 4 * ((int64(h) + 3) / 4)
	const groupBytes = 5*536 + 8*2*(280+2048+256+256+256+40)
	groups := min(min(tiles, 2600)*groupBytes, 32<<10*streamLen)
	return 4*px + 4*((int64(w)+1)/2)*int64(h) + 3*4*tiles + groups
}

// bmpDecodeBytes is what x/image/bmp allocates for a w×h image: an RGBA or NRGBA image
// (24 and 32 bits) or a Paletted one, never more than 4 bytes per pixel, and one row of
// the file (at most 4 bytes per pixel, padded to 4 bytes).
func bmpDecodeBytes(w, h int) int64 {
	return 4*int64(w)*int64(h) + 4*int64(w) + 4
}

// gifFrameBytes is what image/gif allocates per frame besides its pixels: an LZW reader
// (compress/lzw: 4096 suffix bytes, 4096 two-byte prefixes and an 8192-byte output
// buffer, 20 KiB with its fields), a local colour table of up to 256 interface values
// with their boxed colours (5 KiB), and the frame's image header: 32 KiB covers them.
const gifFrameBytes = 32 << 10
