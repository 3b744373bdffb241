package tiffscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"golang.org/x/image/tiff"
)

// ---------------------------------------------------------------------------
// Builders

// tEntry is one IFD entry to be written by build.
type tEntry struct {
	tag, typ uint16
	vals     []uint32 // element values, encoded according to typ
	count    *uint32  // overrides the count field (default len(vals))
	ptr      *uint32  // overrides the value pointer of an out-of-line value
}

func u32p(v uint32) *uint32 { return &v }

func short(tag uint16, v ...uint32) tEntry { return tEntry{tag: tag, typ: typeShort, vals: v} }
func long(tag uint16, v ...uint32) tEntry  { return tEntry{tag: tag, typ: typeLong, vals: v} }

// tiffSpec describes a whole file: header, a data area at offset 8, then
// each IFD followed by its out-of-line values.
type tiffSpec struct {
	be      bool
	magic   []byte      // overrides bytes 0..3 of the header
	ifd0    *uint32     // overrides the first-IFD offset in the header
	data    []byte      // pixel data, placed at offset 8
	ifds    [][]tEntry  // IFDs, in chain order
	link    map[int]int // IFD i's next pointer goes to IFD j (default i+1, last 0)
	nextAbs map[int]uint32
}

// dataOff is where tiffSpec puts its data area.
const dataOff = 8

func (sp tiffSpec) order() binary.ByteOrder {
	if sp.be {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

func elemSize(typ uint16) int {
	if int(typ) < len(typeSize) && typeSize[typ] != 0 {
		return int(typeSize[typ])
	}
	return 1
}

// build lays the file out and returns its bytes.
func (sp tiffSpec) build() []byte {
	bo := sp.order()
	// Pass 1: offsets of every IFD and out-of-line value.
	pos := dataOff + len(sp.data)
	pos += pos & 1
	ifdOff := make([]int, len(sp.ifds))
	valOff := make([][]int, len(sp.ifds))
	for i, ifd := range sp.ifds {
		ifdOff[i] = pos
		pos += 2 + 12*len(ifd) + 4
		valOff[i] = make([]int, len(ifd))
		for j, e := range ifd {
			if n := len(e.vals) * elemSize(e.typ); n > 4 {
				valOff[i][j] = pos
				pos += n + n&1
			}
		}
	}
	// Pass 2: write.
	out := make([]byte, pos)
	if sp.be {
		copy(out, "MM\x00*")
	} else {
		copy(out, "II*\x00")
	}
	if sp.magic != nil {
		copy(out, sp.magic)
	}
	first := uint32(0)
	if len(sp.ifds) > 0 {
		first = uint32(ifdOff[0])
	}
	if sp.ifd0 != nil {
		first = *sp.ifd0
	}
	bo.PutUint32(out[4:], first)
	copy(out[dataOff:], sp.data)
	for i, ifd := range sp.ifds {
		p := ifdOff[i]
		bo.PutUint16(out[p:], uint16(len(ifd)))
		p += 2
		for j, e := range ifd {
			bo.PutUint16(out[p:], e.tag)
			bo.PutUint16(out[p+2:], e.typ)
			cnt := uint32(len(e.vals))
			if e.count != nil {
				cnt = *e.count
			}
			bo.PutUint32(out[p+4:], cnt)
			dst := out[p+8 : p+12]
			if valOff[i][j] != 0 {
				bo.PutUint32(dst, uint32(valOff[i][j]))
				if e.ptr != nil {
					bo.PutUint32(dst, *e.ptr)
				}
				dst = out[valOff[i][j]:]
			}
			for k, v := range e.vals {
				switch elemSize(e.typ) {
				case 1:
					dst[k] = byte(v)
				case 2:
					bo.PutUint16(dst[2*k:], uint16(v))
				case 4:
					bo.PutUint32(dst[4*k:], v)
				case 8:
					bo.PutUint32(dst[8*k:], v)
					bo.PutUint32(dst[8*k+4:], 1)
				}
			}
			p += 12
		}
		next := 0
		if j, ok := sp.link[i]; ok {
			next = ifdOff[j]
		} else if i+1 < len(sp.ifds) {
			next = ifdOff[i+1]
		}
		bo.PutUint32(out[p:], uint32(next))
		if v, ok := sp.nextAbs[i]; ok {
			bo.PutUint32(out[p:], v)
		}
	}
	return out
}

// img describes a first image; spec() turns it into a tiffSpec whose
// strip/tile table points at real bytes in the data area.
type img struct {
	be             bool
	w, h           uint32
	spp            uint32   // 0: tag omitted
	bps            []uint32 // nil: tag omitted
	comp           uint32   // 0: tag omitted
	photometric    uint32   // 0: written as 1 (BlackIsZero)
	rps            uint32   // 0: tag omitted
	tw, th         uint32   // tiled if either is non-zero
	planar         uint32   // 0: tag omitted
	blocks         int      // offsets/byte counts written
	blockLen       uint32   // bytes of data per block
	extra          []tEntry // additional entries (kept sorted by tag)
	edit           func([]tEntry) []tEntry
	moreIFDs       int // extra minimal IFDs chained after IFD0
	link           map[int]int
	countsAsShorts bool
}

func (m img) entries() []tEntry {
	es := []tEntry{long(tagImageWidth, m.w), long(tagImageLength, m.h)}
	if m.bps != nil {
		es = append(es, short(tagBitsPerSample, m.bps...))
	}
	if m.comp != 0 {
		es = append(es, short(tagCompression, m.comp))
	}
	ph := m.photometric
	if ph == 0 {
		ph = 1
	}
	es = append(es, short(tagPhotometric, ph))
	if m.spp != 0 {
		es = append(es, short(tagSamplesPerPixel, m.spp))
	}
	if m.rps != 0 {
		es = append(es, long(tagRowsPerStrip, m.rps))
	}
	if m.planar != 0 {
		es = append(es, short(tagPlanarConfiguration, m.planar))
	}
	offs := make([]uint32, m.blocks)
	cnts := make([]uint32, m.blocks)
	for i := range offs {
		offs[i] = dataOff + uint32(i)*m.blockLen
		cnts[i] = m.blockLen
	}
	offTag, cntTag := uint16(tagStripOffsets), uint16(tagStripByteCounts)
	if m.tw != 0 || m.th != 0 {
		offTag, cntTag = tagTileOffsets, tagTileByteCounts
		es = append(es, short(tagTileWidth, m.tw), short(tagTileLength, m.th))
	}
	es = append(es, long(offTag, offs...))
	cnt := long(cntTag, cnts...)
	if m.countsAsShorts {
		cnt = short(cntTag, cnts...)
	}
	es = append(es, cnt)
	es = append(es, m.extra...)
	slices.SortStableFunc(es, func(a, b tEntry) int { return int(a.tag) - int(b.tag) })
	if m.edit != nil {
		es = m.edit(es)
	}
	return es
}

func (m img) spec() tiffSpec {
	sp := tiffSpec{be: m.be, data: make([]byte, m.blocks*int(m.blockLen)), link: m.link}
	for i := range sp.data {
		sp.data[i] = byte(i * 31)
	}
	sp.ifds = [][]tEntry{m.entries()}
	for i := 0; i < m.moreIFDs; i++ {
		// A minimal reduced-resolution IFD: just NewSubfileType.
		sp.ifds = append(sp.ifds, []tEntry{long(254, 1)})
	}
	return sp
}

func (m img) build() []byte { return m.spec().build() }

// gray8 is a decodable 8-bit grey stripped image: w x h, rps rows per strip.
func gray8(w, h, rps uint32) img {
	n := (h + rps - 1) / rps
	return img{w: w, h: h, bps: []uint32{8}, comp: 1, rps: rps, blocks: int(n), blockLen: w * rps}
}

// tiled8 is a decodable 8-bit grey tiled image.
func tiled8(w, h, tw, th uint32) img {
	n := ((w + tw - 1) / tw) * ((h + th - 1) / th)
	return img{w: w, h: h, bps: []uint32{8}, comp: 1, tw: tw, th: th, blocks: int(n), blockLen: tw * th}
}

// withEntry returns an edit func replacing (or inserting) the entry for e.tag.
func withEntry(e tEntry) func([]tEntry) []tEntry {
	return func(es []tEntry) []tEntry {
		for i := range es {
			if es[i].tag == e.tag {
				es[i] = e
				return es
			}
		}
		es = append(es, e)
		slices.SortStableFunc(es, func(a, b tEntry) int { return int(a.tag) - int(b.tag) })
		return es
	}
}

// without returns an edit func removing the entry for tag.
func without(tag uint16) func([]tEntry) []tEntry {
	return func(es []tEntry) []tEntry {
		return slices.DeleteFunc(es, func(e tEntry) bool { return e.tag == tag })
	}
}

func encodeTIFF(t testing.TB, m image.Image, opt *tiff.Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, tiff.Encode(&buf, m, opt))
	return buf.Bytes()
}

func rgba(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = byte(i * 7)
	}
	return m
}

func gray16(w, h int) *image.Gray16 {
	m := image.NewGray16(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = byte(i * 3)
	}
	return m
}

var generous = Limits{MaxBlocks: 1 << 16, MaxIFDs: 64, MaxEntries: 256}

func isSentinel(err error) bool {
	for _, s := range []error{ErrMalformed, ErrTooManyBlocks, ErrIFDLoop, ErrTooManyIFDs, ErrUnsupported} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Tests

func TestScanValid(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		lim    Limits
		want   Info
		decode bool // also decode with x/image/tiff
	}{
		{
			name: "x/image encoder RGBA uncompressed", data: encodeTIFF(t, rgba(40, 30), nil), decode: true,
			want: Info{Width: 40, Height: 30, BitsPerPixel: 32, Samples: 4, Compression: 1, Photometric: 2, Blocks: 1, IFDs: 1},
		},
		{
			name: "x/image encoder RGBA deflate", data: encodeTIFF(t, rgba(40, 30), &tiff.Options{Compression: tiff.Deflate}), decode: true,
			want: Info{Width: 40, Height: 30, BitsPerPixel: 32, Samples: 4, Compression: 8, Photometric: 2, Blocks: 1, IFDs: 1},
		},
		{
			name: "x/image encoder Gray deflate", data: encodeTIFF(t, image.NewGray(image.Rect(0, 0, 17, 9)), &tiff.Options{Compression: tiff.Deflate}), decode: true,
			want: Info{Width: 17, Height: 9, BitsPerPixel: 8, Samples: 1, Compression: 8, Photometric: 1, Blocks: 1, IFDs: 1},
		},
		{
			name: "x/image encoder Gray16", data: encodeTIFF(t, gray16(5, 7), nil), decode: true,
			want: Info{Width: 5, Height: 7, BitsPerPixel: 16, Samples: 1, Compression: 1, Photometric: 1, Blocks: 1, IFDs: 1},
		},
		{
			name: "hand-built little-endian strips, MaxBlocks exactly 7", data: gray8(10, 100, 16).build(), decode: true,
			lim:  Limits{MaxBlocks: 7, MaxIFDs: 1, MaxEntries: 8}, // 8 entries
			want: Info{Width: 10, Height: 100, BitsPerPixel: 8, Samples: 1, Compression: 1, Photometric: 1, Blocks: 7, IFDs: 1},
		},
		{
			name: "hand-built big-endian strips", data: func() []byte { m := gray8(10, 100, 16); m.be = true; return m.build() }(), decode: true,
			want: Info{Width: 10, Height: 100, BitsPerPixel: 8, Samples: 1, Compression: 1, Photometric: 1, Blocks: 7, IFDs: 1},
		},
		{
			name: "hand-built tiles, MaxBlocks exactly 28", data: tiled8(100, 50, 16, 16).build(), decode: true,
			lim:  Limits{MaxBlocks: 28, MaxIFDs: 1, MaxEntries: 9}, // 9 entries
			want: Info{Width: 100, Height: 50, BitsPerPixel: 8, Samples: 1, Compression: 1, Photometric: 1, Tiled: true, Blocks: 28, IFDs: 1},
		},
		{
			name: "tile size not a multiple of 16 accepted", data: tiled8(10, 10, 12, 12).build(),
			want: Info{Width: 10, Height: 10, BitsPerPixel: 8, Samples: 1, Compression: 1, Photometric: 1, Tiled: true, Blocks: 1, IFDs: 1},
		},
		{
			name: "RowsPerStrip absent means one strip", data: func() []byte { m := gray8(4, 4, 4); m.rps = 0; return m.build() }(), decode: true,
			want: Info{Width: 4, Height: 4, BitsPerPixel: 8, Samples: 1, Compression: 1, Photometric: 1, Blocks: 1, IFDs: 1},
		},
		{
			name: "RowsPerStrip 0 means one strip", data: func() []byte { m := gray8(4, 4, 4); m.edit = withEntry(long(tagRowsPerStrip, 0)); return m.build() }(),
			want: Info{Width: 4, Height: 4, BitsPerPixel: 8, Samples: 1, Compression: 1, Photometric: 1, Blocks: 1, IFDs: 1},
		},
		{
			name: "RowsPerStrip above height means one strip", data: func() []byte {
				m := gray8(4, 4, 4)
				m.edit = withEntry(long(tagRowsPerStrip, 0xFFFFFFFF))
				return m.build()
			}(),
			want: Info{Width: 4, Height: 4, BitsPerPixel: 8, Samples: 1, Compression: 1, Photometric: 1, Blocks: 1, IFDs: 1},
		},
		{
			name: "RowsPerStrip height-1 means two strips", data: gray8(4, 4, 3).build(), decode: true,
			want: Info{Width: 4, Height: 4, BitsPerPixel: 8, Samples: 1, Compression: 1, Photometric: 1, Blocks: 2, IFDs: 1},
		},
		{
			name: "planar 2 multiplies strips by samples (2 strips x 3 planes)",
			data: img{w: 4, h: 20, spp: 3, bps: []uint32{8, 8, 8}, comp: 1, photometric: 2, rps: 10, planar: 2, blocks: 6, blockLen: 40}.build(),
			lim:  Limits{MaxBlocks: 6, MaxIFDs: 1, MaxEntries: 10}, // 10 entries
			want: Info{Width: 4, Height: 20, BitsPerPixel: 24, Samples: 3, Compression: 1, Photometric: 2, Blocks: 6, IFDs: 1},
		},
		{
			name: "BitsPerSample absent means 1 bit, Compression absent means none",
			data: img{w: 8, h: 1, blocks: 1, blockLen: 1}.build(),
			want: Info{Width: 8, Height: 1, BitsPerPixel: 1, Samples: 1, Compression: 1, Photometric: 1, Blocks: 1, IFDs: 1},
		},
		{
			name: "SHORT byte counts, LZW, PackBits-style values",
			data: img{w: 3, h: 3, bps: []uint32{8}, comp: 32773, blocks: 1, blockLen: 9, countsAsShorts: true}.build(),
			want: Info{Width: 3, Height: 3, BitsPerPixel: 8, Samples: 1, Compression: 32773, Photometric: 1, Blocks: 1, IFDs: 1},
		},
		{
			name: "chain of 3 IFDs with MaxIFDs exactly 3",
			data: func() []byte { m := gray8(2, 2, 2); m.moreIFDs = 2; return m.build() }(),
			lim:  Limits{MaxBlocks: 1, MaxIFDs: 3, MaxEntries: 9},
			want: Info{Width: 2, Height: 2, BitsPerPixel: 8, Samples: 1, Compression: 1, Photometric: 1, Blocks: 1, IFDs: 3},
		},
		{
			name: "unknown field type with wild pointer is ignored",
			data: func() []byte {
				m := gray8(2, 2, 2)
				m.extra = []tEntry{{tag: 40000, typ: 99, vals: []uint32{1, 2, 3, 4, 5, 6}, ptr: u32p(0xFFFFFF00)}}
				return m.build()
			}(),
			want: Info{Width: 2, Height: 2, BitsPerPixel: 8, Samples: 1, Compression: 1, Photometric: 1, Blocks: 1, IFDs: 1},
		},
		{
			name: "block ending exactly at EOF",
			data: func() []byte {
				m := gray8(2, 2, 2)
				sp := m.spec()
				// Append the strip to the end of the file and point at it.
				b := sp.build()
				end := uint32(len(b))
				sp.ifds[0] = withEntry(long(tagStripOffsets, end))(sp.ifds[0])
				b = sp.build()
				return append(b, 1, 2, 3, 4)
			}(),
			want: Info{Width: 2, Height: 2, BitsPerPixel: 8, Samples: 1, Compression: 1, Photometric: 1, Blocks: 1, IFDs: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lim := tc.lim
			if lim == (Limits{}) {
				lim = generous
			}
			got, err := Scan(tc.data, lim)
			require.NoError(t, err)
			assert.Positive(t, got.BlockWidth)
			assert.Positive(t, got.BlockHeight)
			got.BlockWidth, got.BlockHeight = 0, 0 // checked by TestBlockSize
			assert.Equal(t, tc.want, got)

			cfg, err := tiff.DecodeConfig(bytes.NewReader(tc.data))
			require.NoError(t, err)
			assert.Equal(t, got.Width, cfg.Width)
			assert.Equal(t, got.Height, cfg.Height)
			if tc.decode {
				_, err := tiff.Decode(bytes.NewReader(tc.data))
				require.NoError(t, err)
			}
		})
	}
}

func TestScanCompression(t *testing.T) {
	for _, c := range []uint32{1, 5, 8, 32773, 32946} {
		m := gray8(2, 2, 2)
		m.comp = c
		info, err := Scan(m.build(), generous)
		require.NoError(t, err, "compression %d", c)
		assert.Equal(t, int(c), info.Compression)
	}
	for _, c := range []uint32{0, 2, 6, 7, 9, 34712, 65535} {
		m := gray8(2, 2, 2)
		m.comp = c
		m.edit = withEntry(short(tagCompression, c)) // write even the 0 value
		_, err := Scan(m.build(), generous)
		require.ErrorIs(t, err, ErrUnsupported, "compression %d", c)
	}
	// CCITT (3 and 4) is accepted for bilevel images: TestScanCCITT.
}

func TestScanRejects(t *testing.T) {
	base := func() img { return gray8(10, 100, 16) } // 7 strips, 8 entries
	build := func(f func(*img)) []byte { m := base(); f(&m); return m.build() }
	buildSpec := func(f func(*tiffSpec)) []byte { sp := base().spec(); f(&sp); return sp.build() }

	tests := []struct {
		name    string
		data    []byte
		lim     Limits
		wantErr error
		only64  bool // dimensions need a 64-bit int (else "image too large")
	}{
		// Header.
		{name: "empty", data: nil, wantErr: ErrMalformed},
		{name: "short header", data: []byte("II*\x00\x08\x00"), wantErr: ErrMalformed},
		{name: "bad magic", data: buildSpec(func(sp *tiffSpec) { sp.magic = []byte("IM*\x00") }), wantErr: ErrMalformed},
		{name: "BigTIFF little-endian", data: buildSpec(func(sp *tiffSpec) { sp.magic = []byte("II+\x00") }), wantErr: ErrUnsupported},
		{name: "BigTIFF big-endian", data: buildSpec(func(sp *tiffSpec) { sp.be = true; sp.magic = []byte("MM\x00+") }), wantErr: ErrUnsupported},

		// IFD placement.
		{name: "first IFD offset 0", data: buildSpec(func(sp *tiffSpec) { sp.ifd0 = u32p(0) }), wantErr: ErrMalformed},
		{name: "first IFD inside header", data: buildSpec(func(sp *tiffSpec) { sp.ifd0 = u32p(4) }), wantErr: ErrMalformed},
		{name: "first IFD past EOF", data: buildSpec(func(sp *tiffSpec) { sp.ifd0 = u32p(0xFFFFFFF0) }), wantErr: ErrMalformed},
		{name: "entries run past EOF", data: func() []byte {
			b := base().build()
			return b[:len(b)-base().spec().valueBytes()-1] // cut into the next-IFD pointer
		}(), wantErr: ErrMalformed},
		{name: "second IFD past EOF", data: buildSpec(func(sp *tiffSpec) { sp.nextAbs = map[int]uint32{0: 0x7FFFFFFF} }), wantErr: ErrMalformed},
		{name: "second IFD at odd offset inside data garbage", data: buildSpec(func(sp *tiffSpec) { sp.nextAbs = map[int]uint32{0: 9} }), wantErr: ErrMalformed},

		// Entry limits.
		{name: "entry count one over MaxEntries", data: build(func(*img) {}), lim: Limits{MaxBlocks: 7, MaxIFDs: 1, MaxEntries: 7}, wantErr: ErrMalformed},

		// IFD chain.
		{name: "IFD0 self-loop", data: build(func(m *img) { m.link = map[int]int{0: 0} }), wantErr: ErrIFDLoop},
		{name: "IFD 2-cycle", data: build(func(m *img) { m.moreIFDs = 1; m.link = map[int]int{1: 0} }), wantErr: ErrIFDLoop},
		{name: "IFD1 self-loop", data: build(func(m *img) { m.moreIFDs = 1; m.link = map[int]int{1: 1} }), wantErr: ErrIFDLoop},
		{name: "3-cycle back to IFD1", data: build(func(m *img) { m.moreIFDs = 3; m.link = map[int]int{3: 1} }), wantErr: ErrIFDLoop},
		{name: "self-loop with MaxIFDs 1 still a loop", data: build(func(m *img) { m.link = map[int]int{0: 0} }), lim: Limits{MaxBlocks: 7, MaxIFDs: 1, MaxEntries: 9}, wantErr: ErrIFDLoop},
		{name: "3 IFDs with MaxIFDs 2", data: build(func(m *img) { m.moreIFDs = 2 }), lim: Limits{MaxBlocks: 7, MaxIFDs: 2, MaxEntries: 9}, wantErr: ErrTooManyIFDs},
		{name: "zero Limits reject everything", data: build(func(*img) {}), lim: Limits{MaxBlocks: 0, MaxIFDs: 0, MaxEntries: 0 /* explicit */}, wantErr: ErrTooManyIFDs},

		// Block counts.
		{name: "strips: MaxBlocks one below 7", data: build(func(*img) {}), lim: Limits{MaxBlocks: 6, MaxIFDs: 1, MaxEntries: 9}, wantErr: ErrTooManyBlocks},
		{name: "tiles: MaxBlocks one below 28", data: tiled8(100, 50, 16, 16).build(), lim: Limits{MaxBlocks: 27, MaxIFDs: 1, MaxEntries: 10}, wantErr: ErrTooManyBlocks},
		{name: "planar 2: MaxBlocks one below 6", data: img{w: 4, h: 20, spp: 3, bps: []uint32{8, 8, 8}, comp: 1, photometric: 2, rps: 10, planar: 2, blocks: 6, blockLen: 40}.build(),
			lim: Limits{MaxBlocks: 5, MaxIFDs: 1, MaxEntries: 10}, wantErr: ErrTooManyBlocks},
		{name: "huge tile count: width 2^32-1, 16x16 tiles", data: img{w: math.MaxUint32, h: 16, bps: []uint32{8}, comp: 1, tw: 16, th: 16, blocks: 1, blockLen: 256}.build(), wantErr: ErrTooManyBlocks, only64: true},
		{name: "huge tile count: 16383x16383 with 1x1 tiles", data: img{w: 16383, h: 16383, bps: []uint32{8}, comp: 8, tw: 1, th: 1, blocks: 1, blockLen: 1}.build(), wantErr: ErrTooManyBlocks},
		{name: "block count overflows uint64 (1x1 tiles x 65535 planes)", data: img{w: 1 << 31, h: 1 << 26, spp: 65535, comp: 1, tw: 1, th: 1, planar: 2, blocks: 1, blockLen: 1}.build(), wantErr: ErrTooManyBlocks, only64: true},
		{name: "one strip per row of a tall image", data: img{w: 1, h: 1 << 27, bps: []uint32{8}, comp: 1, rps: 1, blocks: 1, blockLen: 1}.build(), wantErr: ErrTooManyBlocks},

		// Dimensions.
		{name: "zero-height tiled image with huge width (CVE-2023-29407 shape)", data: img{w: math.MaxUint32, h: 0, bps: []uint32{8}, comp: 1, tw: 16, th: 16, blocks: 1, blockLen: 256}.build(), wantErr: ErrMalformed},
		{name: "zero width", data: build(func(m *img) { m.w = 0 }), wantErr: ErrMalformed},
		{name: "missing width", data: build(func(m *img) { m.edit = without(tagImageWidth) }), wantErr: ErrMalformed},
		{name: "missing height", data: build(func(m *img) { m.edit = without(tagImageLength) }), wantErr: ErrMalformed},
		{name: "width*height*8 overflows int", data: build(func(m *img) { m.w, m.h = math.MaxUint32, math.MaxUint32 }), wantErr: ErrMalformed},
		{name: "width of type ASCII", data: build(func(m *img) { m.edit = withEntry(tEntry{tag: tagImageWidth, typ: 2, vals: []uint32{'9', 0}}) }), wantErr: ErrMalformed},
		{name: "width of type RATIONAL", data: build(func(m *img) { m.edit = withEntry(tEntry{tag: tagImageWidth, typ: 5, vals: []uint32{10}}) }), wantErr: ErrMalformed},
		{name: "width with two values", data: build(func(m *img) { m.edit = withEntry(long(tagImageWidth, 10, 10)) }), wantErr: ErrMalformed},
		{name: "width with count 0", data: build(func(m *img) { m.edit = withEntry(long(tagImageWidth)) }), wantErr: ErrMalformed},

		// Tag order.
		{name: "tags out of order", data: build(func(m *img) {
			m.edit = func(es []tEntry) []tEntry { es[0], es[1] = es[1], es[0]; return es }
		}), wantErr: ErrMalformed},
		{name: "duplicate tag", data: build(func(m *img) {
			m.edit = func(es []tEntry) []tEntry { return append([]tEntry{es[0]}, es...) }
		}), wantErr: ErrMalformed},

		// Samples and planes.
		{name: "SamplesPerPixel 0", data: build(func(m *img) { m.spp = 0; m.edit = withEntry(short(tagSamplesPerPixel, 0)) }), wantErr: ErrMalformed},
		{name: "BitsPerSample count mismatch", data: build(func(m *img) { m.spp = 3; m.bps = []uint32{8, 8} }), wantErr: ErrMalformed},
		{name: "one BitsPerSample value for three samples", data: build(func(m *img) { m.spp = 3; m.photometric = 2 }), wantErr: ErrMalformed},
		{name: "BitsPerSample 0", data: build(func(m *img) { m.bps = []uint32{0} }), wantErr: ErrMalformed},
		{name: "BitsPerSample 65", data: build(func(m *img) { m.bps = []uint32{65} }), wantErr: ErrMalformed},
		{name: "PlanarConfiguration 3", data: build(func(m *img) { m.planar = 3 }), wantErr: ErrMalformed},

		// Layout.
		{name: "tile width 0", data: img{w: 32, h: 32, bps: []uint32{8}, comp: 1, tw: 0, th: 16, blocks: 2, blockLen: 1}.build(), wantErr: ErrMalformed},
		{name: "tile length missing", data: func() []byte {
			m := tiled8(32, 32, 16, 16)
			m.edit = without(tagTileLength)
			return m.build()
		}(), wantErr: ErrMalformed},
		{name: "tiles and strip offsets both present", data: func() []byte {
			m := tiled8(16, 16, 16, 16)
			m.extra = []tEntry{long(tagStripOffsets, dataOff), long(tagStripByteCounts, 1)}
			return m.build()
		}(), wantErr: ErrMalformed},
		{name: "tile offsets without tile size", data: build(func(m *img) { m.extra = []tEntry{long(tagTileOffsets, dataOff)} }), wantErr: ErrMalformed},
		{name: "missing StripOffsets", data: build(func(m *img) { m.edit = without(tagStripOffsets) }), wantErr: ErrMalformed},
		{name: "missing StripByteCounts", data: build(func(m *img) { m.edit = without(tagStripByteCounts) }), wantErr: ErrMalformed},
		{name: "StripOffsets one short of 7", data: build(func(m *img) {
			m.edit = func(es []tEntry) []tEntry {
				for i := range es {
					if es[i].tag == tagStripOffsets {
						es[i].vals = es[i].vals[:6]
					}
				}
				return es
			}
		}), wantErr: ErrMalformed},
		{name: "TileByteCounts one short of 28", data: func() []byte {
			m := tiled8(100, 50, 16, 16)
			m.edit = func(es []tEntry) []tEntry {
				for i := range es {
					if es[i].tag == tagTileByteCounts {
						es[i].vals = es[i].vals[:27]
					}
				}
				return es
			}
			return m.build()
		}(), wantErr: ErrMalformed},
		{name: "offsets count field claims more values than the file holds", data: build(func(m *img) {
			m.edit = func(es []tEntry) []tEntry {
				for i := range es {
					if es[i].tag == tagStripOffsets {
						es[i].count = u32p(0x3FFFFFFF)
					}
				}
				return es
			}
		}), wantErr: ErrMalformed},
		{name: "StripOffsets array pointer past EOF", data: build(func(m *img) {
			m.edit = func(es []tEntry) []tEntry {
				for i := range es {
					if es[i].tag == tagStripOffsets {
						es[i].ptr = u32p(0xFFFFFFF0)
					}
				}
				return es
			}
		}), wantErr: ErrMalformed},
		{name: "strip offset past EOF", data: build(func(m *img) {
			m.edit = func(es []tEntry) []tEntry {
				for i := range es {
					if es[i].tag == tagStripOffsets {
						es[i].vals[3] = 0x00FFFFFF
					}
				}
				return es
			}
		}), wantErr: ErrMalformed},
		{name: "strip offset+count one past EOF", data: func() []byte {
			m := gray8(2, 2, 2)
			sp := m.spec()
			end := uint32(len(sp.build()))
			sp.ifds[0] = withEntry(long(tagStripOffsets, end-3))(sp.ifds[0]) // 4-byte strip, 3 bytes left
			return sp.build()
		}(), wantErr: ErrMalformed},
		{name: "strip offset+count overflows 32 bits", data: func() []byte {
			m := gray8(2, 2, 2)
			m.edit = func(es []tEntry) []tEntry {
				es = withEntry(long(tagStripOffsets, 0xFFFFFFF0))(es)
				return withEntry(long(tagStripByteCounts, 0x20))(es)
			}
			return m.build()
		}(), wantErr: ErrMalformed},
		{name: "unrelated ASCII tag pointing past EOF", data: build(func(m *img) {
			m.extra = []tEntry{{tag: 270, typ: 2, vals: []uint32{'h', 'e', 'l', 'l', 'o', 0}, ptr: u32p(0x10000)}}
		}), wantErr: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.only64 && strconv.IntSize < 64 {
				t.Skip("needs 64-bit int")
			}
			lim := tc.lim
			if lim == (Limits{}) && !strings.HasPrefix(tc.name, "zero Limits") {
				lim = generous
			}
			_, err := Scan(tc.data, lim)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.wantErr)
			assert.True(t, isSentinel(err))
		})
	}
}

// valueBytes is the size of the out-of-line values written after the last
// IFD, so tests can truncate into the IFD itself.
func (sp tiffSpec) valueBytes() int {
	last := sp.ifds[len(sp.ifds)-1]
	n := 0
	for _, e := range last {
		if s := len(e.vals) * elemSize(e.typ); s > 4 {
			n += s + s&1
		}
	}
	return n
}

// A LONG ImageWidth of 2^32-1 is handled without overflow: accepted on
// 64-bit platforms (one strip), rejected as too large where int is 32 bits.
func TestScanMaxLongWidth(t *testing.T) {
	data := img{w: math.MaxUint32, h: 1, bps: []uint32{8}, comp: 1, blocks: 1, blockLen: 4}.build()
	info, err := Scan(data, generous)
	if strconv.IntSize < 64 {
		require.ErrorIs(t, err, ErrMalformed)
		return
	}
	require.NoError(t, err)
	assert.Equal(t, int64(math.MaxUint32), int64(info.Width))
	assert.Equal(t, 1, info.Height)
	assert.Equal(t, 1, info.Blocks)
}

// A hostile tile count is rejected from the header alone: Scan's memory use
// does not grow with the claimed number of tiles, and the partial Info
// reports the computed count.
func TestScanHugeTileCountAllocatesLittle(t *testing.T) {
	if strconv.IntSize < 64 {
		t.Skip("needs 64-bit int for a 2^32-1 wide image")
	}
	// 2^28 tiles across x 2^16 down = 2^44 tiles, from a ~300-byte file.
	data := img{w: math.MaxUint32, h: 1 << 20, bps: []uint32{8}, comp: 1, tw: 16, th: 16, blocks: 1, blockLen: 256}.build()
	lim := Limits{MaxBlocks: 1 << 20, MaxIFDs: 4, MaxEntries: 16}
	info, err := Scan(data, lim)
	require.ErrorIs(t, err, ErrTooManyBlocks)
	assert.Equal(t, int64(math.MaxUint32), int64(info.Width))
	assert.Equal(t, int64(1)<<44, int64(info.Blocks))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 100; i++ {
		_, _ = Scan(data, lim)
	}
	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(100*4096), "bytes allocated by 100 scans")
}

// Every strict prefix of a valid file is rejected, without panicking.
func TestScanTruncatedPrefixes(t *testing.T) {
	for name, data := range map[string][]byte{
		"x/image encoder": encodeTIFF(t, rgba(6, 5), &tiff.Options{Compression: tiff.Deflate}),
		"strips":          gray8(10, 100, 16).build(),
		"tiles BE":        func() []byte { m := tiled8(40, 20, 16, 16); m.be = true; m.moreIFDs = 1; return m.build() }(),
	} {
		t.Run(name, func(t *testing.T) {
			for n := 0; n < len(data); n++ {
				_, err := Scan(data[:n:n], generous)
				require.Error(t, err, "prefix length %d", n)
				require.True(t, isSentinel(err), "prefix length %d: %v", n, err)
			}
			_, err := Scan(data, generous)
			require.NoError(t, err)
		})
	}
}

// x/image/tiff's own test images (written by libtiff and other real
// encoders: strips, 64x64 tiles, PackBits, LZW, 16-bit, paletted, missing
// RowsPerStrip): everything Scan accepts has the dimensions DecodeConfig
// reports, the CCITT samples included, and invalid-palette-ref.tiff,
// whose XResolution value lies past the end of the file, is ErrMalformed.
func TestScanXImageTestdata(t *testing.T) {
	dir := xImageTestdata(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.tiff"))
	if len(files) == 0 {
		t.Skip("no x/image tiff testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			info, err := Scan(data, generous)
			if strings.Contains(f, "invalid-palette-ref") {
				require.ErrorIs(t, err, ErrMalformed)
				return
			}
			require.NoError(t, err)
			cfg, err := tiff.DecodeConfig(bytes.NewReader(data))
			require.NoError(t, err)
			assert.Equal(t, cfg.Width, info.Width)
			assert.Equal(t, cfg.Height, info.Height)
			assert.GreaterOrEqual(t, info.Blocks, 1)
			if strings.Contains(f, "tile") {
				assert.True(t, info.Tiled)
			}
		})
	}
}

func xImageTestdata(t testing.TB) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/image").Output()
	if err != nil {
		t.Skipf("cannot locate golang.org/x/image: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "testdata")
}

func FuzzScan(f *testing.F) {
	lim := Limits{MaxBlocks: 64, MaxIFDs: 4, MaxEntries: 32}
	seeds := [][]byte{
		encodeTIFF(f, rgba(4, 3), nil),
		img{w: 3, h: 3, bps: []uint32{8}, comp: 5, blocks: 1, blockLen: 9}.build(),
		encodeTIFF(f, image.NewGray(image.Rect(0, 0, 3, 3)), &tiff.Options{Compression: tiff.Deflate}),
		encodeTIFF(f, image.NewPaletted(image.Rect(0, 0, 3, 3), color.Palette{color.Black, color.White}), nil),
		gray8(10, 100, 16).build(),
		func() []byte { m := gray8(4, 8, 2); m.be = true; m.moreIFDs = 2; return m.build() }(),
		tiled8(40, 20, 16, 16).build(),
		img{w: 4, h: 4, spp: 3, bps: []uint32{8, 8, 8}, comp: 1, photometric: 2, rps: 2, planar: 2, blocks: 6, blockLen: 8}.build(),
		func() []byte { m := gray8(2, 2, 2); m.link = map[int]int{0: 0}; return m.build() }(),
		func() []byte { m := gray8(2, 2, 2); m.moreIFDs = 1; m.link = map[int]int{1: 0}; return m.build() }(),
		img{w: math.MaxUint32, h: 16, bps: []uint32{8}, comp: 1, tw: 16, th: 16, blocks: 1, blockLen: 256}.build(),
		img{w: math.MaxUint32, h: 0, bps: []uint32{8}, comp: 1, tw: 16, th: 16, blocks: 1, blockLen: 256}.build(),
		tiffSpec{magic: []byte("II+\x00")}.build(),
		fixture.TIFFCCITT(16, 8, fixture.CCITT{Group4: true, RowsPerStrip: 4}),
		fixture.TIFFCCITT(16, 8, fixture.CCITT{LSBFirst: true}),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Scan(data, lim)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error does not wrap a sentinel: %v", err)
			}
			return
		}
		if info.Width <= 0 || info.Height <= 0 {
			t.Fatalf("success with size %dx%d", info.Width, info.Height)
		}
		if info.Blocks < 1 || info.Blocks > lim.MaxBlocks {
			t.Fatalf("success with Blocks=%d", info.Blocks)
		}
		if info.IFDs < 1 || info.IFDs > lim.MaxIFDs {
			t.Fatalf("success with IFDs=%d", info.IFDs)
		}
		if info.Samples < 1 || info.BitsPerPixel < 1 {
			t.Fatalf("success with Samples=%d BitsPerPixel=%d", info.Samples, info.BitsPerPixel)
		}
	})
}

func TestBlockSize(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   []byte
		bw, bh int
	}{
		{"one strip", fixture.TIFFStrips(40, 30, 30), 40, 30},
		{"rows per strip past the height", fixture.TIFFStrips(40, 30, 1000), 40, 30},
		{"strips of 4 rows", fixture.TIFFStrips(40, 30, 4), 40, 4},
		{"tiles", fixture.TIFFTiled(64, 48, 16, 32), 16, 32},
	} {
		info, err := Scan(tc.data, Limits{MaxBlocks: 1000, MaxIFDs: 4, MaxEntries: 100})
		require.NoError(t, err, tc.name)
		assert.Equal(t, [2]int{tc.bw, tc.bh}, [2]int{info.BlockWidth, info.BlockHeight}, tc.name)
	}
	_, err := Scan(fixture.TIFFTiled(64, 48, 16, 16), Limits{MaxBlocks: 1000, MaxIFDs: 4, MaxEntries: 100})
	require.NoError(t, err)
}
