// Package inflate decodes zlib (RFC 1950) streams of DEFLATE (RFC 1951)
// data, accepting and refusing exactly what compress/zlib and
// compress/flate accept and refuse, faster: a 64-bit bit buffer refilled a
// word at a time, one table lookup per literal, length or distance (11-bit
// and 8-bit root tables with subtables), and matches copied 8 bytes at a
// time, in the style of libdeflate.
//
// A Decoder pulls its compressed input piece by piece from a Source into a
// small buffer, and decodes ahead into a window of at most 128 KiB of
// output, so that a caller reading a bounded amount never makes it inflate
// much more than that.
package inflate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Errors returned by a Decoder wrap one of these; a stream that ends early
// gives io.ErrUnexpectedEOF (or the Source's error, when it gave one).
var (
	// ErrCorrupt: invalid DEFLATE data (compress/flate's CorruptInputError).
	ErrCorrupt = errors.New("inflate: corrupt input")
	// ErrHeader: an invalid zlib header (compress/zlib's ErrHeader).
	ErrHeader = errors.New("inflate: invalid zlib header")
	// ErrDictionary: the zlib stream needs a preset dictionary (other than
	// the empty one).
	ErrDictionary = errors.New("inflate: zlib dictionary not supported")
	// ErrChecksum: the Adler-32 of the output does not match the stream's.
	ErrChecksum = errors.New("inflate: invalid checksum")
)

// A Source returns the next piece of compressed input. An error (io.EOF
// for a clean end) means there is no more; it is returned by Read only if
// the stream needs input beyond what came before it.
type Source func() ([]byte, error)

const (
	histSize = 32 << 10  // DEFLATE's window
	winSize  = 128 << 10 // history plus output decoded per step
	inSize   = 4 << 10   // compressed input buffer
	inKeep   = 8         // bytes kept before the read position when the buffer moves (the bit buffer's)
	inMargin = 1024      // input a block header may need (a dynamic header is at most ~570 bytes)
	outSlack = 258 + 8   // output room for one match copied 8 bytes at a time
)

const (
	stZlibHeader = iota
	stBlockHeader
	stHuffman
	stStored
	stAdler
	stDone
)

// Bytes is what a Decoder allocates: its window and input buffer (the
// tables are part of the struct).
const Bytes = winSize + inSize + (litEnough+distEnough+1<<clenRoot)*4 + 1024

// Decoder is a zlib decoder. The zero value is not usable: use NewDecoder.
type Decoder struct {
	src    Source
	pend   []byte // what is left of the Source's last piece
	srcErr error  // the Source's error, once it gave one
	final  bool   // no more input will come

	ibuf []byte
	in   []byte // ibuf[:n]
	ipos int
	base int64 // stream offset of in[0]

	bits uint64
	nb   uint // valid bits in bits
	over int  // zero bytes loaded past the end of the input

	win        []byte
	wpos, rpos int

	state  int
	last   bool // the current block is the final one
	stored int  // bytes left in a stored block
	eob    int  // a dynamic block's end-of-block code length (0 in a fixed block)
	adler  uint32
	err    error
	lt, dt []uint32
	lit    [litEnough]uint32
	dist   [distEnough]uint32
	clen   [1 << clenRoot]uint32
	lens   [288 + 32]uint8
	sorted [320]uint16
	used   int64
	slid   int64 // output dropped from the front of the window

	// OnStored, when set (after Reset), is called at each stored block
	// with the stream offset of its first data byte, its length and the
	// output size before it: what a caller needs to replay how another
	// reader of the same input would have read it.
	OnStored func(in int64, n int, out int64)
}

// NewDecoder returns a Decoder reading from src.
func NewDecoder(src Source) *Decoder {
	d := &Decoder{ibuf: make([]byte, inSize), win: make([]byte, winSize)}
	d.Reset(src)
	return d
}

// Reset makes d decode a new stream from src, keeping its buffers.
func (d *Decoder) Reset(src Source) {
	*d = Decoder{ibuf: d.ibuf, win: d.win, src: src, adler: 1}
	d.in = d.ibuf[:0]
}

// Consumed is how many bytes of compressed input the stream took, zlib
// header and Adler-32 included; valid once Read has returned io.EOF.
func (d *Decoder) Consumed() int64 { return d.used }

// Read reads decoded bytes. It returns io.EOF once the stream has ended
// with a valid Adler-32 and every byte has been read.
func (d *Decoder) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for d.rpos == d.wpos {
		if d.err != nil {
			return 0, d.err
		}
		d.step()
	}
	n := copy(p, d.win[d.rpos:d.wpos])
	d.rpos += n
	return n, nil
}

func corrupt(what string) error { return fmt.Errorf("%w: %s", ErrCorrupt, what) }

// fill moves the unread input (and inKeep bytes before it) to the front of
// the buffer and tops it up from the Source.
func (d *Decoder) fill() {
	if d.final {
		return
	}
	keep := max(d.ipos-inKeep, 0)
	n := copy(d.ibuf, d.in[keep:])
	d.base += int64(keep)
	d.ipos -= keep
	for n < len(d.ibuf) {
		if len(d.pend) == 0 {
			p, err := d.src()
			if err != nil {
				d.final = true
				if err != io.EOF {
					d.srcErr = err
				}
				break
			}
			d.pend = p
			continue
		}
		c := copy(d.ibuf[n:], d.pend)
		d.pend = d.pend[c:]
		n += c
	}
	d.in = d.ibuf[:n]
}

// short is the error for a stream that needs more input than there is.
func (d *Decoder) short() error {
	if d.srcErr != nil {
		return d.srcErr
	}
	return io.ErrUnexpectedEOF
}

// need makes nb >= n (n <= 56), loading bytes one at a time, zeros past
// the end of the input (counted in over).
func (d *Decoder) need(n uint) {
	for d.nb < n {
		if d.ipos >= len(d.in) && !d.final {
			d.fill()
			continue
		}
		if d.ipos < len(d.in) {
			d.bits |= uint64(d.in[d.ipos]) << d.nb
			d.ipos++
		} else {
			d.over++
		}
		d.nb += 8
	}
}

// pull takes n bits (need(n) first).
func (d *Decoder) pull(n uint) uint32 {
	v := uint32(d.bits & (1<<n - 1)) // #nosec G115 -- n <= 32
	d.bits >>= n
	d.nb -= n
	return v
}

// overrun reports whether decoding took bits past the end of the input.
func (d *Decoder) overrun() bool { return d.over > 0 && int(d.nb) < 8*d.over }

// align drops the bits up to a byte boundary and gives the whole bytes in
// the bit buffer back to the input.
func (d *Decoder) align() error {
	d.nb &^= 7
	if d.overrun() {
		return d.short()
	}
	d.ipos -= int(d.nb/8) - d.over
	d.bits, d.nb, d.over = 0, 0, 0
	return nil
}

// bytes returns the next n input bytes (aligned), or fewer at the end.
func (d *Decoder) bytes(n int) []byte {
	if len(d.in)-d.ipos < n {
		d.fill()
	}
	b := d.in[d.ipos:min(d.ipos+n, len(d.in))]
	d.ipos += len(b)
	return b
}

// step decodes the next stretch of output (or sets d.err).
func (d *Decoder) step() {
	if d.wpos > len(d.win)-histSize/2 {
		copy(d.win, d.win[d.wpos-histSize:d.wpos])
		d.slid += int64(d.wpos - histSize)
		d.wpos, d.rpos = histSize, histSize
	}
	start := d.wpos
	err := d.decode()
	d.adler = adler32(d.adler, d.win[start:d.wpos])
	if err == nil && d.state == stAdler {
		err = d.finish()
	}
	d.err = err
}

func (d *Decoder) finish() error {
	if err := d.align(); err != nil {
		return err
	}
	b := d.bytes(4)
	if len(b) < 4 {
		return d.short()
	}
	d.state = stDone
	d.used = d.base + int64(d.ipos)
	if binary.BigEndian.Uint32(b) != d.adler {
		return ErrChecksum
	}
	return io.EOF
}

// decode runs the state machine until the window has no room for another
// match, or the stream ends (stAdler), or an error.
func (d *Decoder) decode() error {
	for d.wpos <= len(d.win)-outSlack {
		switch d.state {
		case stZlibHeader:
			b := d.bytes(2)
			if len(b) < 2 {
				return d.short()
			}
			if b[0]&0x0f != 8 || b[0]>>4 > 7 || (uint(b[0])<<8|uint(b[1]))%31 != 0 {
				return ErrHeader
			}
			if b[1]&0x20 != 0 {
				// compress/zlib without a dictionary accepts only the
				// Adler-32 of an empty one.
				id := d.bytes(4)
				if len(id) < 4 {
					return d.short()
				}
				if binary.BigEndian.Uint32(id) != 1 {
					return ErrDictionary
				}
			}
			d.state = stBlockHeader
		case stBlockHeader:
			if d.last {
				d.state = stAdler
				return nil
			}
			if err := d.blockHeader(); err != nil {
				return err
			}
		case stStored:
			if d.stored == 0 {
				d.state = stBlockHeader
				continue
			}
			b := d.bytes(min(d.stored, len(d.win)-d.wpos))
			if len(b) == 0 {
				return d.short()
			}
			d.wpos += copy(d.win[d.wpos:], b)
			d.stored -= len(b)
		case stHuffman:
			if err := d.huffman(); err != nil {
				return err
			}
			if d.state == stHuffman && !d.final && d.ipos+16 > len(d.in) {
				d.fill()
			}
		default:
			return nil
		}
	}
	return nil
}

func (d *Decoder) blockHeader() error {
	if len(d.in)-d.ipos < inMargin {
		d.fill()
	}
	d.need(3)
	h := d.pull(3)
	if d.overrun() {
		return d.short()
	}
	d.last = h&1 != 0
	switch h >> 1 {
	case 0:
		if err := d.align(); err != nil {
			return err
		}
		b := d.bytes(4)
		if len(b) < 4 {
			return d.short()
		}
		n := binary.LittleEndian.Uint16(b)
		if binary.LittleEndian.Uint16(b[2:]) != ^n {
			return corrupt("stored block length")
		}
		d.stored = int(n)
		d.state = stStored
		if d.OnStored != nil {
			d.OnStored(d.base+int64(d.ipos), d.stored, d.slid+int64(d.wpos))
		}
		return nil
	case 1:
		d.lt, d.dt = fixedLit, fixedDist
		d.eob = 0
	case 2:
		if err := d.dynamic(); err != nil {
			return err
		}
		d.lt, d.dt = d.lit[:], d.dist[:]
		d.eob = int(d.lens[256])
	default:
		return corrupt("block type 3")
	}
	d.state = stHuffman
	return nil
}

// codeOrder is the order of the code-length code's lengths.
var codeOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// dynamic reads a dynamic block's code lengths and builds its tables, as
// compress/flate's readHuffman (the same checks, in the same order).
func (d *Decoder) dynamic() error {
	d.need(14)
	nlit := int(d.pull(5)) + 257
	ndist := int(d.pull(5)) + 1
	nclen := int(d.pull(4)) + 4
	if d.overrun() {
		return d.short()
	}
	if nlit > 286 || ndist > 30 {
		return corrupt("code counts")
	}
	var cl [19]uint8
	for i := range nclen {
		d.need(3)
		cl[codeOrder[i]] = uint8(d.pull(3)) // #nosec G115 -- 3 bits
	}
	if d.overrun() {
		return d.short()
	}
	if !build(d.clen[:], clenRoot, cl[:], clenPayload[:], d.sorted[:]) {
		return corrupt("code-length code")
	}
	lens := d.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		d.need(7 + 7)
		e := d.clen[d.bits&(1<<clenRoot-1)]
		if e&fBad != 0 {
			if d.overrun() {
				return d.short()
			}
			return corrupt("code length symbol")
		}
		d.pull(uint(e & 0xff))
		x := e >> 16
		if x < 16 {
			if d.overrun() {
				return d.short()
			}
			lens[i] = uint8(x) // #nosec G115 -- x < 16
			i++
			continue
		}
		var rep int
		var v uint8
		switch x {
		case 16:
			if i == 0 {
				if d.overrun() {
					return d.short()
				}
				return corrupt("repeat with no previous length")
			}
			rep = 3 + int(d.pull(2))
			v = lens[i-1]
		case 17:
			rep = 3 + int(d.pull(3))
		default:
			rep = 11 + int(d.pull(7))
		}
		if d.overrun() {
			return d.short()
		}
		if i+rep > len(lens) {
			return corrupt("code lengths overflow")
		}
		for j := range rep {
			lens[i+j] = v
		}
		i += rep
	}
	if !build(d.lit[:], litRoot, lens[:nlit], litPayload[:], d.sorted[:]) ||
		!build(d.dist[:], distRoot, lens[nlit:], distPayload[:], d.sorted[:]) {
		return corrupt("Huffman code")
	}
	return nil
}

// adler32 updates the Adler-32 a with p. Eight bytes at a time: for a
// block of g groups of 8 bytes, s1 gains the bytes' sum and s2 gains 8g s1,
// 8 times the running sum before each group, and each of the eight
// columns' sums weighted 8..1; the columns are summed in 16-bit lanes
// (256 groups at most, so a lane stays under 65536).
func adler32(a uint32, p []byte) uint32 {
	const mod = 65521
	const lanes = 0x00ff00ff00ff00ff
	s1, s2 := uint64(a&0xffff), uint64(a>>16)
	for len(p) >= 8 {
		g := min(len(p)/8, 256)
		q := p[:8*g]
		p = p[8*g:]
		var run, runs, lo, hi uint64
		for len(q) >= 8 {
			w := binary.LittleEndian.Uint64(q)
			runs += run
			l, h := w&lanes, w>>8&lanes
			lo += l
			hi += h
			run += (l + h) * 0x0001000100010001 >> 48
			q = q[8:]
		}
		s2 += 8*uint64(g)*s1 + 8*runs +
			8*(lo&0xffff) + 6*(lo>>16&0xffff) + 4*(lo>>32&0xffff) + 2*(lo>>48) +
			7*(hi&0xffff) + 5*(hi>>16&0xffff) + 3*(hi>>32&0xffff) + 1*(hi>>48)
		s1 += run
		s1 %= mod
		s2 %= mod
	}
	for _, c := range p {
		s1 += uint64(c)
		s2 += s1
	}
	return uint32(s2%mod)<<16 | uint32(s1%mod) // #nosec G115 -- both below 65521
}
