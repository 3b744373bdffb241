package jpegscan

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"testing"

	"github.com/stretchr/testify/require"
)

// This file builds test JPEGs: real ones with image/jpeg's encoder, and
// hand-made ones segment by segment. No opaque blobs.

// builder appends JPEG segments.
type builder struct{ b []byte }

func newJPEG() *builder { return &builder{b: []byte{0xFF, soiMarker}} }

// seg appends 0xFF marker, a 16-bit length (payload + 2) and the payload.
func (j *builder) seg(marker byte, payload ...byte) *builder {
	j.b = append(j.b, 0xFF, marker)
	j.b = binary.BigEndian.AppendUint16(j.b, uint16(len(payload)+2))
	j.b = append(j.b, payload...)
	return j
}

// raw appends bytes verbatim (entropy-coded data, fill bytes, garbage).
func (j *builder) raw(b ...byte) *builder { j.b = append(j.b, b...); return j }

// eoi appends the End Of Image marker and returns the file.
func (j *builder) eoi() []byte { return append(j.b, 0xFF, eoiMarker) }

// bytes returns the file as built so far (no EOI).
func (j *builder) bytes() []byte { return j.b }

// sof appends a start-of-frame segment:
//
//	P=8 | Y height | X width | Nf | Nf × {C, H<<4|V, Tq}
func (j *builder) sof(marker byte, w, h int, comps ...Component) *builder {
	p := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(len(comps))}
	for _, c := range comps {
		p = append(p, byte(c.ID), byte(c.H<<4|c.V), byte(c.Tq))
	}
	return j.seg(marker, p...)
}

// sos appends a start-of-scan header (no entropy data):
//
//	Ns | Ns × {Cs, Td<<4|Ta} (tables 0/0) | Ss | Se | Ah<<4|Al
func (j *builder) sos(ids []int, ss, se, ah, al byte) *builder {
	p := []byte{byte(len(ids))}
	for _, id := range ids {
		p = append(p, byte(id), 0x00)
	}
	p = append(p, ss, se, ah<<4|al)
	return j.seg(sosMarker, p...)
}

// adobe appends an APP14 Adobe segment:
//
//	"Adobe" | version 100 | flags0 | flags1 | transform
func (j *builder) adobe(transform byte) *builder {
	return j.seg(app14Marker, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, transform)
}

// exifOrientation appends an APP1 segment holding a little-endian Exif TIFF
// structure whose IFD0 has one entry, Orientation = v:
//
//	"Exif\0\0" | "II*\0" | IFD0 offset 8 | count 1 |
//	tag 0x0112, type 3 (SHORT), count 1, value v (2 bytes + 2 padding) | next IFD 0
func (j *builder) exifOrientation(v uint16) *builder {
	p := []byte("Exif\x00\x00II*\x00")
	p = binary.LittleEndian.AppendUint32(p, 8)
	p = binary.LittleEndian.AppendUint16(p, 1)
	p = binary.LittleEndian.AppendUint16(p, 0x0112)
	p = binary.LittleEndian.AppendUint16(p, 3)
	p = binary.LittleEndian.AppendUint32(p, 1)
	p = binary.LittleEndian.AppendUint16(p, v)
	p = append(p, 0, 0)
	p = binary.LittleEndian.AppendUint32(p, 0)
	return j.seg(app1Marker, p...)
}

// tables appends what a flat image needs: quantization table 0 (all ones)
// and the smallest possible Huffman tables, DC table 0 and AC table 0, each
// with a single 1-bit code "0" for symbol 0x00. For DC, symbol 0 means "the
// difference is 0"; for AC it means EOB. So every block of a flat mid-grey
// image codes as "00" in a sequential scan, and as "0" in each progressive
// DC or AC scan.
func (j *builder) tables() *builder {
	dqt := append([]byte{0x00}, bytes.Repeat([]byte{1}, 64)...) // Pq=0 Tq=0, 64 entries
	j.seg(dqtMarker, dqt...)
	one := func(tcth byte) []byte {
		p := []byte{tcth}                  // Tc<<4 | Th
		p = append(p, 1)                   // one code of length 1
		p = append(p, make([]byte, 15)...) // no codes of length 2..16
		return append(p, 0x00)             // its symbol
	}
	j.seg(dhtMarker, one(0x00)...) // DC table 0
	return j.seg(dhtMarker, one(0x10)...)
}

// flat describes a hand-made JPEG of a flat mid-grey image with any of the
// sampling layouts image/jpeg supports, baseline or progressive.
type flat struct {
	w, h        int
	comps       []Component
	progressive bool
	adobe       int // transform byte of an Adobe APP14, or -1 for none
	acScans     int // progressive: AC scans per component (default 1)
}

var (
	gray   = []Component{{ID: 1, H: 1, V: 1}}
	yuv444 = []Component{{ID: 1, H: 1, V: 1}, {ID: 2, H: 1, V: 1, Tq: 1}, {ID: 3, H: 1, V: 1, Tq: 1}}
	yuv420 = []Component{{ID: 1, H: 2, V: 2}, {ID: 2, H: 1, V: 1, Tq: 1}, {ID: 3, H: 1, V: 1, Tq: 1}}
	yuv422 = []Component{{ID: 1, H: 2, V: 1}, {ID: 2, H: 1, V: 1, Tq: 1}, {ID: 3, H: 1, V: 1, Tq: 1}}
	yuv411 = []Component{{ID: 1, H: 4, V: 1}, {ID: 2, H: 1, V: 1, Tq: 1}, {ID: 3, H: 1, V: 1, Tq: 1}}
	cmyk   = []Component{{ID: 1, H: 1, V: 1}, {ID: 2, H: 1, V: 1}, {ID: 3, H: 1, V: 1}, {ID: 4, H: 1, V: 1}}
	ycck22 = []Component{{ID: 1, H: 2, V: 2}, {ID: 2, H: 1, V: 1}, {ID: 3, H: 1, V: 1}, {ID: 4, H: 2, V: 2}}
)

// blocks returns an upper bound on the 8x8 blocks of the image over all
// components (MCU padding included).
func (f flat) blocks() int {
	mh, mv := 1, 1
	for _, c := range f.comps {
		mh, mv = max(mh, c.H), max(mv, c.V)
	}
	n := 0
	for _, c := range f.comps {
		n += (f.w + 8*mh - 1) / (8 * mh) * c.H * ((f.h + 8*mv - 1) / (8 * mv)) * c.V
	}
	return n
}

// zeros returns enough zero bytes for bitsPerBlock bits per block. Surplus
// bytes after the last block are skipped by image/jpeg as extraneous data.
func (f flat) zeros(bitsPerBlock int) []byte {
	return make([]byte, (f.blocks()*bitsPerBlock+7)/8+2)
}

func (f flat) build() []byte {
	j := newJPEG()
	if f.adobe >= 0 {
		j.adobe(byte(f.adobe))
	}
	j.tables()
	var ids []int
	for _, c := range f.comps {
		ids = append(ids, c.ID)
	}
	if !f.progressive {
		j.sof(sof0Marker, f.w, f.h, f.comps...)
		j.sos(ids, 0, 63, 0, 0).raw(f.zeros(2)...)
		return j.eoi()
	}
	j.sof(sof2Marker, f.w, f.h, f.comps...)
	j.sos(ids, 0, 0, 0, 0).raw(f.zeros(1)...) // interleaved DC scan
	for range max(f.acScans, 1) {
		for _, id := range ids {
			j.sos([]int{id}, 1, 63, 0, 0).raw(f.zeros(1)...) // AC scan, all EOB
		}
	}
	return j.eoi()
}

// pattern returns an RGBA image with enough detail that the encoder emits
// real entropy-coded data (including stuffed 0xFF bytes).
func pattern(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetRGBA(x, y, color.RGBA{uint8(x * 7), uint8(y * 13), uint8((x ^ y) * 5), 255})
		}
	}
	return m
}

func encode(t testing.TB, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}))
	return buf.Bytes()
}

func grayImage(w, h int) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 31)
	}
	return m
}

// withSegment inserts a segment right after the SOI of an encoded JPEG.
func withSegment(data []byte, seg []byte) []byte {
	out := append([]byte{}, data[:2]...)
	out = append(out, seg...)
	return append(out, data[2:]...)
}
