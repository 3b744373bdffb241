package exif

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// entry is one 12-byte IFD entry.
type entry struct {
	tag   uint16 // e.g. 0x0112 Orientation
	typ   uint16 // 3 SHORT, 4 LONG, ...
	count uint32 // number of values of type typ
	value uint16 // written left-justified in the 4-byte value field
}

// payload describes an APP1 Exif payload to build.
type payload struct {
	bigEndian bool    // "MM\0*" instead of "II*\0"
	noPrefix  bool    // omit "Exif\0\0"
	ifdOffset *uint32 // IFD0 offset from the TIFF header start; nil = 8 (right after it)
	count     *uint16 // IFD0 entry count; nil = len(entries)
	entries   []entry // IFD0 entries
}

func u32(v uint32) *uint32 { return &v }
func u16(v uint16) *uint16 { return &v }

// build lays out:
//
//	"Exif\0\0"                      6 bytes (unless noPrefix)
//	TIFF header:  "II*\0" | "MM\0*" 4 bytes
//	              IFD0 offset       4 bytes, relative to the TIFF header
//	IFD0:         entry count       2 bytes
//	              entries           12 bytes each: tag, type, count, value
//	              next-IFD offset   4 bytes (always 0)
func (p payload) build() []byte {
	var bo binary.AppendByteOrder = binary.LittleEndian
	magic := []byte("II*\x00")
	if p.bigEndian {
		bo, magic = binary.BigEndian, []byte("MM\x00*")
	}
	var b []byte
	if !p.noPrefix {
		b = append(b, "Exif\x00\x00"...)
	}
	b = append(b, magic...)
	off := uint32(8)
	if p.ifdOffset != nil {
		off = *p.ifdOffset
	}
	b = bo.AppendUint32(b, off)
	n := uint16(len(p.entries))
	if p.count != nil {
		n = *p.count
	}
	b = bo.AppendUint16(b, n)
	for _, e := range p.entries {
		b = bo.AppendUint16(b, e.tag)
		b = bo.AppendUint16(b, e.typ)
		b = bo.AppendUint32(b, e.count)
		b = bo.AppendUint16(b, e.value) // first 2 bytes of the value field
		b = append(b, 0, 0)             // padding of the value field
	}
	return bo.AppendUint32(b, 0) // no IFD1
}

// orient is a well-formed Orientation entry.
func orient(v uint16) entry { return entry{tag: 0x0112, typ: 3, count: 1, value: v} }

// other is an unrelated entry (ImageWidth, SHORT).
var other = entry{tag: 0x0100, typ: 3, count: 1, value: 640}

type orientationCase struct {
	name string
	p    payload
	want int
}

func orientationCases() []orientationCase {
	var cases []orientationCase
	for _, be := range []bool{false, true} {
		order := "LE"
		if be {
			order = "BE"
		}
		for v := uint16(1); v <= 8; v++ {
			cases = append(cases, orientationCase{
				name: fmt.Sprintf("%s/orientation=%d", order, v),
				p:    payload{bigEndian: be, entries: []entry{other, orient(v)}},
				want: int(v),
			})
		}
		cases = append(cases,
			orientationCase{order + "/value 0", payload{bigEndian: be, entries: []entry{orient(0)}}, 1},
			orientationCase{order + "/value 9", payload{bigEndian: be, entries: []entry{orient(9)}}, 1},
			orientationCase{order + "/value 0xffff", payload{bigEndian: be, entries: []entry{orient(0xffff)}}, 1},
			orientationCase{order + "/type LONG", payload{bigEndian: be, entries: []entry{{tag: 0x0112, typ: 4, count: 1, value: 6}}}, 1},
			orientationCase{order + "/count 2", payload{bigEndian: be, entries: []entry{{tag: 0x0112, typ: 3, count: 2, value: 6}}}, 1},
			orientationCase{order + "/count 0", payload{bigEndian: be, entries: []entry{{tag: 0x0112, typ: 3, count: 0, value: 6}}}, 1},
			orientationCase{order + "/tag absent", payload{bigEndian: be, entries: []entry{other}}, 1},
			orientationCase{order + "/no entries", payload{bigEndian: be}, 1},
			orientationCase{order + "/IFD offset past end", payload{bigEndian: be, ifdOffset: u32(1000), entries: []entry{orient(6)}}, 1},
			orientationCase{order + "/IFD offset 2^32-1", payload{bigEndian: be, ifdOffset: u32(0xFFFFFFFF), entries: []entry{orient(6)}}, 1},
			orientationCase{order + "/IFD offset into header", payload{bigEndian: be, ifdOffset: u32(4), entries: []entry{orient(6)}}, 1},
			orientationCase{order + "/entry count larger than payload", payload{bigEndian: be, count: u16(3), entries: []entry{orient(6)}}, 1},
			orientationCase{order + "/entry count 65535", payload{bigEndian: be, count: u16(0xFFFF), entries: []entry{orient(6)}}, 1},
			orientationCase{order + "/entry count smaller hides tag", payload{bigEndian: be, count: u16(1), entries: []entry{other, orient(6)}}, 1},
			orientationCase{order + "/first duplicate wins", payload{bigEndian: be, entries: []entry{orient(3), orient(6)}}, 3},
			orientationCase{order + "/malformed first duplicate", payload{bigEndian: be, entries: []entry{orient(0), orient(6)}}, 1},
			orientationCase{order + "/no Exif prefix", payload{bigEndian: be, noPrefix: true, entries: []entry{orient(6)}}, 1},
		)
	}
	return cases
}

func TestOrientation(t *testing.T) {
	for _, tc := range orientationCases() {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Orientation(tc.p.build()))
		})
	}
}

func TestOrientationByteOrderMatters(t *testing.T) {
	// The value 6 written big-endian reads as 0x0600 if mistaken for
	// little-endian; swapping just the magic must therefore lose the tag.
	b := payload{bigEndian: true, entries: []entry{orient(6)}}.build()
	copy(b[6:10], "II*\x00")
	assert.Equal(t, 1, Orientation(b))
}

func TestOrientationBadHeaders(t *testing.T) {
	for name, b := range map[string][]byte{
		"nil":           nil,
		"prefix only":   []byte("Exif\x00\x00"),
		"bad magic":     []byte("Exif\x00\x00II+\x00\x08\x00\x00\x00\x00\x00"),
		"mixed magic":   []byte("Exif\x00\x00IM*\x00\x08\x00\x00\x00\x00\x00"),
		"wrong prefix":  []byte("Exif\x00\x01II*\x00\x08\x00\x00\x00\x00\x00"),
		"short header":  []byte("Exif\x00\x00II*\x00\x08\x00"),
		"XMP namespace": []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"),
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, 1, Orientation(b))
		})
	}
}

// Every prefix of a valid payload must be handled without panicking; only the
// full payload (or a prefix that still holds the whole entry) may find the tag.
func TestOrientationTruncated(t *testing.T) {
	for _, be := range []bool{false, true} {
		full := payload{bigEndian: be, entries: []entry{other, orient(8)}}.build()
		require.Equal(t, 8, Orientation(full))
		// Prefix | TIFF header | count | 2 entries; the trailing next-IFD offset
		// is not needed to read IFD0.
		complete := 6 + 8 + 2 + 2*12
		for n := 0; n < len(full); n++ {
			want := 1
			if n >= complete {
				want = 8
			}
			assert.NotPanics(t, func() {
				assert.Equal(t, want, Orientation(full[:n]), "prefix length %d", n)
			})
		}
	}
}

func TestOrientationDoesNotAllocate(t *testing.T) {
	b := payload{count: u16(0xFFFF), entries: []entry{orient(6)}}.build()
	good := payload{entries: []entry{orient(6)}}.build()
	allocs := testing.AllocsPerRun(100, func() {
		Orientation(b)
		Orientation(good)
	})
	assert.Zero(t, allocs)
}

// jpegWith wraps segments (marker, payload) between SOI and a minimal SOS/EOI.
func jpegWith(segs ...seg) []byte {
	b := []byte{0xFF, 0xD8}
	for _, s := range segs {
		b = append(b, 0xFF, s.marker)
		b = binary.BigEndian.AppendUint16(b, uint16(len(s.payload)+2))
		b = append(b, s.payload...)
	}
	return append(b, 0xFF, 0xD9)
}

type seg struct {
	marker  byte
	payload []byte
}

func TestFromJPEG(t *testing.T) {
	exif6 := payload{entries: []entry{orient(6)}}.build()
	exif3 := payload{bigEndian: true, entries: []entry{orient(3)}}.build()
	jfif := []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
	xmp := []byte("http://ns.adobe.com/xap/1.0/\x00<x/>")
	sos := []byte{1, 1, 0, 0, 63, 0}

	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"exif after JFIF", jpegWith(seg{0xE0, jfif}, seg{0xE1, exif6}), 6},
		{"XMP APP1 skipped", jpegWith(seg{0xE1, xmp}, seg{0xE1, exif3}), 3},
		{"first Exif wins", jpegWith(seg{0xE1, exif3}, seg{0xE1, exif6}), 3},
		{"Exif in APP2 ignored", jpegWith(seg{0xE2, exif6}), 1},
		{"no Exif", jpegWith(seg{0xE0, jfif}), 1},
		{"Exif after SOS ignored", jpegWith(seg{0xDA, sos}, seg{0xE1, exif6}), 1},
		{"fill bytes before marker", append([]byte{0xFF, 0xD8, 0xFF, 0xFF}, jpegWith(seg{0xE1, exif6})[2:]...), 6},
		{"no SOI", jpegWith(seg{0xE1, exif6})[2:], 1},
		{"extraneous bytes skipped, as image/jpeg does", append([]byte{0xFF, 0xD8, 0x00, 0x12, 0xFF, 0x00}, jpegWith(seg{0xE1, exif6})[2:]...), 6},
		{"stand-alone markers skipped", append([]byte{0xFF, 0xD8, 0xFF, 0xD3, 0xFF, 0x01}, jpegWith(seg{0xE1, exif6})[2:]...), 6},
		{"EOI stops the walk", append([]byte{0xFF, 0xD8, 0xFF, 0xD9}, jpegWith(seg{0xE1, exif6})[2:]...), 1},
		{"empty", nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, FromJPEG(tc.data))
		})
	}
}

func TestFromJPEGBadLengths(t *testing.T) {
	exif6 := payload{entries: []entry{orient(6)}}.build()
	good := jpegWith(seg{0xE1, exif6})
	require.Equal(t, 6, FromJPEG(good))

	short := append([]byte(nil), good...)
	short[4], short[5] = 0, 1 // APP1 length 1 (< 2)
	assert.Equal(t, 1, FromJPEG(short))

	long := append([]byte(nil), good...)
	long[4], long[5] = 0xFF, 0xFF // APP1 length past end
	assert.Equal(t, 1, FromJPEG(long))

	for n := 0; n < len(good); n++ {
		assert.NotPanics(t, func() { FromJPEG(good[:n]) }, "prefix length %d", n)
	}
}

func FuzzOrientation(f *testing.F) {
	for _, tc := range orientationCases() {
		f.Add(tc.p.build())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v := Orientation(b)
		if v < 1 || v > 8 {
			t.Fatalf("Orientation = %d, want 1..8", v)
		}
	})
}

func FuzzFromJPEG(f *testing.F) {
	for _, tc := range orientationCases() {
		f.Add(jpegWith(seg{0xE1, tc.p.build()}))
	}
	f.Add(jpegWith(seg{0xE0, []byte("JFIF\x00")}, seg{0xE1, payload{entries: []entry{orient(5)}}.build()}))
	f.Fuzz(func(t *testing.T, b []byte) {
		v := FromJPEG(b)
		if v < 1 || v > 8 {
			t.Fatalf("FromJPEG = %d, want 1..8", v)
		}
		// FromJPEG must agree with Orientation on a lone Exif payload
		// wrapped in a well-formed segment.
		if len(b) <= 0xFFFF-2 {
			if got, want := FromJPEG(jpegWith(seg{0xE1, b})), Orientation(b); len(b) >= 6 && string(b[:6]) == "Exif\x00\x00" && got != want {
				t.Fatalf("FromJPEG(wrapped) = %d, Orientation = %d", got, want)
			}
		}
	})
}
