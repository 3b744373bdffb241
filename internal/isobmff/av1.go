package isobmff

import "fmt"

// The AV1 decoder sizes its frames from the sequence header in the coded item's
// data, not from ispe: a 16×16 ispe over a sequence header of 65536×65536 would have
// it allocate for the latter. av1Check reads every sequence header OBU in an av01
// item's data and requires its maximum frame size to fit the item's ispe.

// av1Check walks the OBUs of an av01 item's data (one extent: an OBU may not span two,
// so every sequence header the decoder sees is read here).
func (s *scanner) av1Check(it *item, sz Size) error {
	if len(it.extents) != 1 {
		return fmt.Errorf("av01 item in %d extents: %w", len(it.extents), ErrUnsupported)
	}
	e := it.extents[0]
	src := s.data
	if it.method == 1 {
		src = s.idat
	}
	b := src[e.off : e.off+e.len]
	// Items may share or overlap extents: bound the bytes walked in all.
	s.walked += int64(len(b))
	if s.walked > 2*int64(len(s.data))+1<<20 {
		return fmt.Errorf("item data walked more than twice over: %w", ErrLimit)
	}
	for len(b) > 0 {
		h := b[0]
		if h&0x80 != 0 {
			return fmt.Errorf("av1 OBU forbidden bit: %w", ErrMalformed)
		}
		typ, ext, hasSize := (h>>3)&15, h&4 != 0, h&2 != 0
		n := 1
		if ext {
			n++
		}
		if n > len(b) {
			return fmt.Errorf("av1 OBU header truncated: %w", ErrMalformed)
		}
		size := uint64(len(b) - n) // #nosec G115 -- a slice length is never negative
		if hasSize {
			v, k, ok := leb128(b[n:])
			if !ok {
				return fmt.Errorf("av1 OBU size: %w", ErrMalformed)
			}
			n += k
			if v > uint64(len(b)-n) { // #nosec G115 -- a slice length is never negative
				return fmt.Errorf("av1 OBU of %d bytes past its item's data: %w", v, ErrMalformed)
			}
			size = v
		}
		payload := b[n : n+int(size)] // #nosec G115 -- size <= len(b)-n
		if typ == 1 {                 // OBU_SEQUENCE_HEADER
			w, h, err := av1MaxFrame(payload)
			if err != nil {
				return err
			}
			if w > int64(sz.Width) || h > int64(sz.Height) {
				return fmt.Errorf("av1 sequence header of %dx%d over its ispe %dx%d: %w", w, h, sz.Width, sz.Height, ErrLimit)
			}
		}
		b = b[n+int(size):] // #nosec G115 -- as above
	}
	return nil
}

// leb128 reads an unsigned LEB128 of at most 8 bytes (AV1 5.3.2).
func leb128(b []byte) (uint64, int, bool) {
	var v uint64
	for i := 0; i < 8 && i < len(b); i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1, true
		}
	}
	return 0, 0, false
}

// bits reads big-endian bit fields; a read past the end sets bad.
type bits struct {
	b   []byte
	pos int
	bad bool
}

func (r *bits) f(n int) uint64 {
	var v uint64
	for range n {
		if r.pos >= 8*len(r.b) {
			r.bad = true
			return 0
		}
		v = v<<1 | uint64(r.b[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v
}

// uvlc is AV1's uvlc() (4.10.3).
func (r *bits) uvlc() {
	lz := 0
	for !r.bad && r.f(1) == 0 {
		lz++
		if lz >= 32 {
			return
		}
	}
	r.f(lz)
}

// av1MaxFrame parses a sequence header OBU (AV1 5.5.1) up to its maximum frame size.
func av1MaxFrame(p []byte) (int64, int64, error) {
	r := &bits{b: p}
	r.f(3)           // seq_profile
	r.f(1)           // still_picture
	if r.f(1) == 1 { // reduced_still_picture_header
		r.f(5) // seq_level_idx[0]
	} else {
		decoderModel := false
		bufferDelayLen := 0
		if r.f(1) == 1 { // timing_info_present_flag
			r.f(32)          // num_units_in_display_tick
			r.f(32)          // time_scale
			if r.f(1) == 1 { // equal_picture_interval
				r.uvlc()
			}
			if r.f(1) == 1 { // decoder_model_info_present_flag
				decoderModel = true
				bufferDelayLen = int(r.f(5)) + 1 // #nosec G115 -- a 5-bit field
				r.f(32)                          // num_units_in_decoding_tick
				r.f(5)                           // buffer_removal_time_length_minus_1
				r.f(5)                           // frame_presentation_time_length_minus_1
			}
		}
		initialDisplayDelay := r.f(1) == 1
		ops := int(r.f(5)) + 1 // #nosec G115 -- a 5-bit field
		for range ops {
			r.f(12) // operating_point_idc
			if r.f(5) > 7 {
				r.f(1) // seq_tier
			}
			if decoderModel && r.f(1) == 1 {
				r.f(bufferDelayLen) // decoder_buffer_delay
				r.f(bufferDelayLen) // encoder_buffer_delay
				r.f(1)              // low_delay_mode_flag
			}
			if initialDisplayDelay && r.f(1) == 1 {
				r.f(4)
			}
		}
	}
	wb, hb := int(r.f(4))+1, int(r.f(4))+1     // #nosec G115 -- 4-bit fields
	w, h := int64(r.f(wb))+1, int64(r.f(hb))+1 // #nosec G115 -- fields of at most 16 bits
	if r.bad {
		return 0, 0, fmt.Errorf("av1 sequence header truncated: %w", ErrMalformed)
	}
	return w, h, nil
}
