package isobmff

import (
	"encoding/binary"
	"fmt"
)

// The HEVC decoder (libde265 behind libheif) sizes its pictures from the sequence
// parameter sets (SPS NAL units) it is handed, not from ispe: a 16×16 ispe over an
// SPS of 65536×65536 would have it allocate for the latter. libheif hands it, for an
// hvc1 item, every NAL unit of the item's hvcC property (whatever array lists it),
// then the item's data (its extents concatenated) read as NAL units each prefixed by
// a 4-byte length (libheif's libde265 plugin assumes 4 bytes whatever hvcC's
// lengthSizeMinusOne says). hevcCheck reads every SPS among them and requires its
// coded picture to fit the item's ispe rounded up to 64 (a picture is a whole number
// of minimum coding blocks, at most 64 samples on a side, cropped to the image by its
// conformance window), at least one SPS to be present, and at most one coded picture.

// hevcMaxPad is the most a coded HEVC picture may exceed its ispe on each axis.
const hevcMaxPad = 64

// spsHead is the most of an SPS NAL unit read: its fields up to the bit depths take
// at most about 160 bytes of payload even with every sub-layer present, and emulation
// prevention adds at most one byte in three.
const spsHead = 512

// hvcC is what an hvcC property's NAL units declare.
type hvcC struct {
	sps  int   // SPS NAL units of layer 0
	pics int   // coded pictures begun (slices of layer 0 with first_slice_segment_in_pic_flag)
	w, h int64 // the largest coded picture among them
	err  error // a malformed record or SPS
}

// parseHvcC reads an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1).
func parseHvcC(q []byte) hvcC {
	var r hvcC
	c := cursor{b: q}
	c.take(22)
	arrays := int(c.u8())
	for range arrays {
		c.u8() // array_completeness, reserved, NAL_unit_type: libheif ignores it
		n := int(c.u16())
		for range n {
			l := int(c.u16())
			nal := c.take(l)
			if c.bad {
				break
			}
			if err := r.nal(nal); err != nil {
				r.err = err
				return r
			}
		}
	}
	if c.bad {
		r.err = fmt.Errorf("hvcC truncated: %w", ErrMalformed)
	}
	return r
}

// nal checks one NAL unit (its first bytes at least, up to spsHead), counting an SPS.
func (r *hvcC) nal(nal []byte) error {
	if len(nal) == 0 {
		return nil
	}
	if len(nal) < 2 {
		return fmt.Errorf("hevc NAL unit of one byte: %w", ErrMalformed)
	}
	typ, layer := nal[0]>>1&0x3f, (nal[0]&1)<<5|nal[1]>>3
	if layer != 0 { // libde265 discards every NAL unit of a layer over 0
		return nil
	}
	if typ < 32 && len(nal) > 2 && nal[2]&0x80 != 0 { // a VCL NAL unit starting a picture
		r.pics++
	}
	if typ != 33 {
		return nil
	}
	w, h, err := spsSize(nal[2:])
	if err != nil {
		return err
	}
	r.sps++
	r.w, r.h = max(r.w, w), max(r.h, h)
	return nil
}

// hevcCheck checks an hvc1 item's SPS NAL units, in its hvcC properties and its data,
// against sz, its ispe, and returns the largest coded picture they declare.
func (s *scanner) hevcCheck(it *item, sz Size) (int64, int64, error) {
	var all hvcC
	for _, idx := range it.props {
		p := s.props[idx-1]
		if p.typ != "hvcC" {
			continue
		}
		if p.hvcC.err != nil {
			return 0, 0, p.hvcC.err
		}
		all.sps += p.hvcC.sps
		all.pics += p.hvcC.pics
		all.w, all.h = max(all.w, p.hvcC.w), max(all.h, p.hvcC.h)
	}
	src := s.data
	if it.method == 1 {
		src = s.idat
	}
	var parts [][]byte
	for _, e := range it.extents {
		parts = append(parts, src[e.off:e.off+e.len]) // one per extent already held
		// Items may share or overlap extents: bound the bytes walked in all.
		s.walked += int64(e.len) // #nosec G115 -- an extent lies in the file
		if s.walked > 2*int64(len(s.data))+1<<20 {
			return 0, 0, fmt.Errorf("item data walked more than twice over: %w", ErrLimit)
		}
	}
	st := chain{parts: parts}
	var head [spsHead]byte
	for !st.empty() {
		var l [4]byte
		if st.read(l[:], 4) != 4 {
			return 0, 0, fmt.Errorf("hevc NAL length truncated: %w", ErrMalformed)
		}
		n := int64(binary.BigEndian.Uint32(l[:]))
		if n > st.left() {
			return 0, 0, fmt.Errorf("hevc NAL unit of %d bytes past its item's data: %w", n, ErrMalformed)
		}
		k := st.read(head[:], min(n, spsHead))
		st.skip(n - int64(k))
		if err := all.nal(head[:k]); err != nil {
			return 0, 0, err
		}
	}
	if all.sps == 0 {
		return 0, 0, fmt.Errorf("hvc1 item without a sequence parameter set: %w", ErrMalformed)
	}
	// An image item is one coded picture (ISO/IEC 23008-12 6.2): more would have
	// libde265 hold several in its picture buffer before libheif takes the first.
	if all.pics > 1 {
		return 0, 0, fmt.Errorf("hvc1 item of %d pictures: %w", all.pics, ErrUnsupported)
	}
	if all.w > roundUp(sz.Width, hevcMaxPad) || all.h > roundUp(sz.Height, hevcMaxPad) {
		return 0, 0, fmt.Errorf("hevc SPS of %dx%d over its ispe %dx%d: %w", all.w, all.h, sz.Width, sz.Height, ErrLimit)
	}
	return all.w, all.h, nil
}

func roundUp(v, m int) int64 { return (int64(v) + int64(m) - 1) / int64(m) * int64(m) }

// chain reads the concatenation of byte slices.
type chain struct{ parts [][]byte }

func (c *chain) empty() bool {
	for len(c.parts) > 0 && len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	return len(c.parts) == 0
}

func (c *chain) left() int64 {
	var n int64
	for _, p := range c.parts {
		n += int64(len(p))
	}
	return n
}

// read copies up to n bytes into dst (n <= len(dst)) and returns how many it copied.
func (c *chain) read(dst []byte, n int64) int {
	k := 0
	for int64(k) < n && !c.empty() {
		m := copy(dst[k:n], c.parts[0])
		c.parts[0] = c.parts[0][m:]
		k += m
	}
	return k
}

func (c *chain) skip(n int64) {
	for n > 0 && !c.empty() {
		m := min(n, int64(len(c.parts[0])))
		c.parts[0] = c.parts[0][m:]
		n -= m
	}
}

// unescape removes the emulation prevention bytes (a 3 after two zero bytes, H.265
// 7.4.2) of an SPS's payload.
func unescape(b []byte) []byte {
	out := make([]byte, 0, len(b))
	zeros := 0
	for _, v := range b {
		if zeros >= 2 && v == 3 {
			zeros = 0
			continue
		}
		if v == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, v)
	}
	return out
}

// ue reads an unsigned exp-Golomb code of at most 32 leading zeros.
func (r *bits) ue() uint64 {
	lz := 0
	for r.f(1) == 0 {
		if r.bad {
			return 0
		}
		lz++
		if lz > 32 {
			r.bad = true
			return 0
		}
	}
	return 1<<lz - 1 + r.f(lz)
}

func (r *bits) skip(n int) {
	for n > 0 {
		k := min(n, 32)
		r.f(k)
		n -= k
	}
}

// spsSize parses an SPS payload (H.265 7.3.2.2.1, after the NAL unit header) up to
// its bit depths and returns its coded picture size.
func spsSize(p []byte) (int64, int64, error) {
	r := &bits{b: unescape(p)}
	r.f(4)                   // sps_video_parameter_set_id
	subLayers := int(r.f(3)) // #nosec G115 -- a 3-bit field
	if subLayers > 6 {
		return 0, 0, fmt.Errorf("hevc SPS with %d sub-layers: %w", subLayers+1, ErrMalformed)
	}
	r.f(1)     // sps_temporal_id_nesting_flag
	r.skip(88) // general profile
	r.f(8)     // general_level_idc
	var profile, level [7]bool
	for i := range subLayers {
		profile[i], level[i] = r.f(1) == 1, r.f(1) == 1
	}
	if subLayers > 0 {
		r.skip(2 * (8 - subLayers)) // reserved_zero_2bits
	}
	for i := range subLayers {
		if profile[i] {
			r.skip(88)
		}
		if level[i] {
			r.f(8)
		}
	}
	if id := r.ue(); id > 15 {
		return 0, 0, fmt.Errorf("hevc SPS id %d: %w", id, ErrMalformed)
	}
	chroma := r.ue()
	if chroma > 3 {
		return 0, 0, fmt.Errorf("hevc SPS chroma_format_idc %d: %w", chroma, ErrMalformed)
	}
	if chroma == 3 {
		r.f(1) // separate_colour_plane_flag
	}
	w, h := r.ue(), r.ue()
	if r.f(1) == 1 { // conformance_window_flag
		for range 4 {
			r.ue()
		}
	}
	luma, chromaDepth := r.ue(), r.ue()
	if r.bad {
		return 0, 0, fmt.Errorf("hevc SPS truncated or with an exp-Golomb code over 32 bits: %w", ErrMalformed)
	}
	if w == 0 || h == 0 || luma > 8 || chromaDepth > 8 {
		return 0, 0, fmt.Errorf("hevc SPS of %dx%d at %d/%d bits: %w", w, h, luma+8, chromaDepth+8, ErrMalformed)
	}
	return int64(w), int64(h), nil // #nosec G115 -- at most 2^33
}
