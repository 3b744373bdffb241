package inflate

import "encoding/binary"

// huffman decodes a Huffman block's symbols until its end of block, or
// until the window has no room for another match, or (input still to
// come) until fewer than 16 input bytes are buffered. While 16 bytes
// remain, the bit buffer is refilled a word at a time; at the end of the
// input, a byte at a time with zeros past it, each symbol checked not to
// have used them.
func (d *Decoder) huffman() error {
	in, win, lt, dt := d.in, d.win, d.lt, d.dt
	bits, nb, ipos, wpos := d.bits, d.nb, d.ipos, d.wpos
	over, eob := d.over, d.eob
	ilimit := len(in) - 16
	olimit := len(win) - outSlack
	var err error
	for wpos <= olimit {
		if ipos <= ilimit {
			bits |= binary.LittleEndian.Uint64(in[ipos:]) << nb
			ipos += int((63 - nb) >> 3)
			nb |= 56
		} else if !d.final {
			break
		} else {
			for nb <= 56 {
				if ipos < len(in) {
					bits |= uint64(in[ipos]) << nb
					ipos++
				} else {
					over++
				}
				nb += 8
			}
			if over > 0 && int(nb)-8*over < eob {
				// compress/flate reads a dynamic block's symbols only with
				// at least the end-of-block code's length of input at hand.
				err = d.short()
				break
			}
		}
		e := lt[bits&(1<<litRoot-1)]
		if e&fSub != 0 {
			bits >>= litRoot
			nb -= litRoot
			e = lt[e>>16+uint32(bits&(1<<(e>>8&15)-1))] // #nosec G115 -- masked to the subtable's bits
		}
		n := uint(e & 0xff)
		bits >>= n
		nb -= n
		if e&fLit != 0 {
			if over > 0 && int(nb) < 8*over {
				err = d.short()
				break
			}
			win[wpos] = byte(e >> 16) // #nosec G115 -- a literal entry's value is a byte
			wpos++
			if over == 0 {
				// At least 56-15 bits are left: room for another literal.
				e = lt[bits&(1<<litRoot-1)]
				if e&(fLit|fSub) == fLit {
					n = uint(e & 0xff)
					bits >>= n
					nb -= n
					win[wpos] = byte(e >> 16) // #nosec G115 -- a literal entry's value is a byte
					wpos++
					// And a third: 56-30 bits are left.
					e = lt[bits&(1<<litRoot-1)]
					if e&(fLit|fSub) == fLit {
						n = uint(e & 0xff)
						bits >>= n
						nb -= n
						win[wpos] = byte(e >> 16) // #nosec G115 -- a literal entry's value is a byte
						wpos++
					}
				}
			}
			continue
		}
		if e&(fEOB|fBad) != 0 {
			if over > 0 && int(nb) < 8*over {
				err = d.short()
			} else if e&fBad != 0 {
				err = corrupt("invalid literal/length code")
			} else {
				d.state = stBlockHeader
			}
			break
		}
		x := uint(e >> 8 & 15)
		length := int(e>>16) + int(bits&(1<<x-1)) // #nosec G115 -- x <= 5 bits
		bits >>= x
		nb -= x
		e = dt[bits&(1<<distRoot-1)]
		if e&fSub != 0 {
			bits >>= distRoot
			nb -= distRoot
			e = dt[e>>16+uint32(bits&(1<<(e>>8&15)-1))] // #nosec G115 -- masked to the subtable's bits
		}
		n = uint(e & 0xff)
		bits >>= n
		nb -= n
		x = uint(e >> 8 & 15)
		dist := int(e>>16) + int(bits&(1<<x-1)) // #nosec G115 -- x <= 13 bits
		bits >>= x
		nb -= x
		if over > 0 && int(nb) < 8*over {
			err = d.short()
			break
		}
		if e&fBad != 0 {
			err = corrupt("invalid distance code")
			break
		}
		if dist > wpos {
			err = corrupt("distance beyond the output")
			break
		}
		src := wpos - dist
		switch {
		case dist >= 8:
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(win[wpos+i:], binary.LittleEndian.Uint64(win[src+i:]))
			}
		case dist == 1:
			v := uint64(win[src]) * 0x0101010101010101
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(win[wpos+i:], v)
			}
		default:
			// Write one period stretched to a multiple of dist >= 8 a byte
			// at a time, then copy 8 bytes at a time from that far back.
			p := (8 + dist - 1) / dist * dist
			for i := range p {
				win[wpos+i] = win[src+i]
			}
			for i := p; i < length; i += 8 {
				binary.LittleEndian.PutUint64(win[wpos+i:], binary.LittleEndian.Uint64(win[wpos+i-p:]))
			}
		}
		wpos += length
	}
	d.bits, d.nb, d.ipos, d.wpos, d.over = bits, nb, ipos, wpos, over
	return err
}
