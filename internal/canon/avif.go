package canon

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
)

// AVIF checks b against the layout libavif (github.com/gen2brain/avif, through
// internal/codec) writes for a still image, and returns the size from its ispe:
//
//   - exactly three top-level boxes, ftyp, meta and mdat, with 32-bit sizes, the last
//     ending at the end of b;
//   - ftyp: major brand "avif", minor version 0, compatible brands among avif, mif1, miaf,
//     MA1B and MA1A, including the first three;
//   - meta (version 0): hdlr "pict" with an empty name; pitm item 1; iloc (version 0, 4-byte
//     offsets and lengths, no base offset) with one extent per item; iinf (version 0) with
//     infe (version 2) items 1 "av01" "Color" and, for alpha, 2 "av01" "Alpha"; for alpha,
//     iref with a single auxl from item 2 to item 1; iprp holding ipco (ispe, pixi of three
//     8-bit channels, av1C, colr nclx; for alpha also pixi of one channel, av1C, auxC of
//     the alpha URN) and ipma with libavif's associations; nothing else, in that order;
//   - mdat: the items' extents, which together cover its payload exactly.
//
// No Exif, XMP, mime or other item, no grid, no other box, and nothing after mdat.
//
// The box walk is this package's own, minimal and strict; internal/isobmff is the
// tolerant walk for untrusted inputs.
func AVIF(b []byte) (width, height int, err error) {
	top, err := isoBoxes(b)
	if err != nil {
		return 0, 0, err
	}
	if len(top) != 3 || top[0].typ != "ftyp" || top[1].typ != "meta" || top[2].typ != "mdat" {
		return 0, 0, fail("avif: top-level boxes our encoder does not write")
	}
	if err := avifFtyp(top[0].data); err != nil {
		return 0, 0, err
	}
	meta, ok := fullBox0(top[1].data)
	if !ok {
		return 0, 0, fail("avif: meta version or flags")
	}
	mb, err := isoBoxes(meta)
	if err != nil {
		return 0, 0, err
	}
	names := make([]string, len(mb))
	for i, c := range mb {
		names[i] = c.typ
	}
	var alpha bool
	switch {
	case slices.Equal(names, []string{"hdlr", "pitm", "iloc", "iinf", "iprp"}):
	case slices.Equal(names, []string{"hdlr", "pitm", "iloc", "iinf", "iref", "iprp"}):
		alpha = true
	default:
		return 0, 0, fail("avif: meta boxes our encoder does not write")
	}
	items := 1
	if alpha {
		items = 2
	}
	if !bytes.Equal(mb[0].data, avifHdlr) {
		return 0, 0, fail("avif: hdlr our encoder does not write")
	}
	if !bytes.Equal(mb[1].data, []byte{0, 0, 0, 0, 0, 1}) {
		return 0, 0, fail("avif: pitm our encoder does not write")
	}
	extents, err := avifIloc(mb[2].data, items)
	if err != nil {
		return 0, 0, err
	}
	if err := avifIinf(mb[3].data, items); err != nil {
		return 0, 0, err
	}
	if alpha && !bytes.Equal(mb[4].data, avifIref) {
		return 0, 0, fail("avif: iref our encoder does not write")
	}
	width, height, err = avifIprp(mb[len(mb)-1].data, alpha)
	if err != nil {
		return 0, 0, err
	}
	// The extents tile mdat's payload: no byte of it lies outside an item.
	mdatStart := int64(len(b) - len(top[2].data))
	slices.SortFunc(extents, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	at := mdatStart
	for _, e := range extents {
		if e[0] != at || e[1] == 0 {
			return 0, 0, fail("avif: mdat holds bytes outside the items, or an extent outside mdat")
		}
		at += e[1]
	}
	if at != int64(len(b)) {
		return 0, 0, fail("avif: mdat holds bytes outside the items, or an extent outside mdat")
	}
	return width, height, nil
}

// avifHdlr is hdlr's payload: version and flags 0, pre_defined 0, "pict", three reserved
// words, an empty name.
var avifHdlr = []byte{0, 0, 0, 0, 0, 0, 0, 0, 'p', 'i', 'c', 't', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

// avifIref is iref's payload with alpha: version 0, auxl from item 2 to item 1.
var avifIref = []byte{0, 0, 0, 0, 0, 0, 0, 14, 'a', 'u', 'x', 'l', 0, 2, 0, 1, 0, 1}

// avifAuxC is the alpha item's auxC payload: version 0 and the alpha URN.
var avifAuxC = append([]byte{0, 0, 0, 0}, "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha\x00"...)

// avifIpma is ipma's payload for one item, and for two (alpha): the property indices
// libavif associates, av1C marked essential.
var (
	avifIpma1 = []byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 4, 1, 2, 0x83, 4}
	avifIpma2 = []byte{0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 4, 1, 2, 0x83, 4, 0, 2, 4, 1, 5, 0x86, 7}
)

func avifFtyp(p []byte) error {
	if len(p) < 8 || len(p)%4 != 0 || string(p[:4]) != "avif" || binary.BigEndian.Uint32(p[4:]) != 0 {
		return fail("avif: ftyp our encoder does not write")
	}
	seen := map[string]bool{}
	for c := p[8:]; len(c) > 0; c = c[4:] {
		brand := string(c[:4])
		switch brand {
		case "avif", "mif1", "miaf", "MA1B", "MA1A":
			seen[brand] = true
		default:
			return fail("avif: compatible brand our encoder does not write")
		}
	}
	if !seen["avif"] || !seen["mif1"] || !seen["miaf"] {
		return fail("avif: ftyp lacks a compatible brand our encoder writes")
	}
	return nil
}

// avifIloc checks iloc and returns each item's one extent as (offset, length).
func avifIloc(p []byte, items int) ([][2]int64, error) {
	if len(p) != 8+14*items || p[0] != 0 || p[1] != 0 || p[2] != 0 || p[3] != 0 || p[4] != 0x44 || p[5] != 0 ||
		int(binary.BigEndian.Uint16(p[6:])) != items {
		return nil, fail("avif: iloc our encoder does not write")
	}
	var out [][2]int64
	for i := range items {
		e := p[8+14*i:]
		if int(binary.BigEndian.Uint16(e)) != i+1 || binary.BigEndian.Uint16(e[2:]) != 0 || binary.BigEndian.Uint16(e[4:]) != 1 {
			return nil, fail("avif: iloc item %d our encoder does not write", i)
		}
		out = append(out, [2]int64{int64(binary.BigEndian.Uint32(e[6:])), int64(binary.BigEndian.Uint32(e[10:]))})
	}
	return out, nil
}

func avifIinf(p []byte, items int) error {
	if len(p) < 6 || !bytes.Equal(p[:4], []byte{0, 0, 0, 0}) || int(binary.BigEndian.Uint16(p[4:])) != items {
		return fail("avif: iinf our encoder does not write")
	}
	infe, err := isoBoxes(p[6:])
	if err != nil {
		return err
	}
	if len(infe) != items {
		return fail("avif: iinf holds %d boxes for %d items", len(infe), items)
	}
	for i, c := range infe {
		name := "Color\x00"
		if i == 1 {
			name = "Alpha\x00"
		}
		want := append([]byte{2, 0, 0, 0, 0, byte(i + 1), 0, 0, 'a', 'v', '0', '1'}, name...)
		if c.typ != "infe" || !bytes.Equal(c.data, want) {
			return fail("avif: item %d our encoder does not write", i)
		}
	}
	return nil
}

// avifIprp checks iprp and returns the size from ispe.
func avifIprp(p []byte, alpha bool) (width, height int, err error) {
	c, err := isoBoxes(p)
	if err != nil {
		return 0, 0, err
	}
	if len(c) != 2 || c[0].typ != "ipco" || c[1].typ != "ipma" {
		return 0, 0, fail("avif: iprp boxes our encoder does not write")
	}
	props, err := isoBoxes(c[0].data)
	if err != nil {
		return 0, 0, err
	}
	want, ipma := []string{"ispe", "pixi", "av1C", "colr"}, avifIpma1
	if alpha {
		want, ipma = append(want, "pixi", "av1C", "auxC"), avifIpma2
	}
	if len(props) != len(want) {
		return 0, 0, fail("avif: ipco holds %d properties", len(props))
	}
	for i, pr := range props {
		if pr.typ != want[i] {
			return 0, 0, fail("avif: property %d our encoder does not write", i)
		}
		d := pr.data
		var ok bool
		switch {
		case i == 0: // ispe
			ok = len(d) == 12 && binary.BigEndian.Uint32(d) == 0
			if ok {
				w, h := binary.BigEndian.Uint32(d[4:]), binary.BigEndian.Uint32(d[8:])
				ok = w > 0 && h > 0 && w <= 1<<31-1 && h <= 1<<31-1
				width, height = int(w), int(h)
			}
		case i == 1: // pixi, colour
			ok = bytes.Equal(d, []byte{0, 0, 0, 0, 3, 8, 8, 8})
		case i == 4: // pixi, alpha
			ok = bytes.Equal(d, []byte{0, 0, 0, 0, 1, 8})
		case pr.typ == "av1C": // marker and version 1, no configuration OBUs
			ok = len(d) == 4 && d[0] == 0x81
		case pr.typ == "colr": // nclx: primaries, transfer, matrix, full-range flag
			ok = len(d) == 11 && string(d[:4]) == "nclx" && d[10]&0x7f == 0
		case pr.typ == "auxC":
			ok = bytes.Equal(d, avifAuxC)
		}
		if !ok {
			return 0, 0, fail("avif: property %d our encoder does not write", i)
		}
	}
	if !bytes.Equal(c[1].data, ipma) {
		return 0, 0, fail("avif: ipma our encoder does not write")
	}
	return width, height, nil
}

type isoBox struct {
	typ  string
	data []byte
}

// isoBoxes splits b into boxes with 32-bit sizes (no 64-bit or to-the-end sizes, which
// our encoder does not write), refusing anything left over.
func isoBoxes(b []byte) ([]isoBox, error) {
	var out []isoBox
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, fail("avif: box %d truncated", len(out))
		}
		n := int64(binary.BigEndian.Uint32(b))
		if n < 8 || n > int64(len(b)) {
			return nil, fail("avif: box %d of size %d in %d bytes", len(out), n, len(b))
		}
		out = append(out, isoBox{typ: string(b[4:8]), data: b[8:n]})
		b = b[n:]
	}
	return out, nil
}

// fullBox0 returns a full box's payload after its version and flags, which must be 0.
func fullBox0(p []byte) ([]byte, bool) {
	if len(p) < 4 || p[0] != 0 || p[1] != 0 || p[2] != 0 || p[3] != 0 {
		return nil, false
	}
	return p[4:], true
}
