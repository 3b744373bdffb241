package pngdec

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"sync"

	"github.com/fastimagecache/fastimagecache/internal/inflate"
)

// inflaterBytes bounds what one inflate allocates beyond the rows: the
// inflater (window, input buffer, tables), the idat state and the
// allocator's rounding.
const inflaterBytes = inflate.Bytes + 16<<10

// inflaters keeps inflaters between decodes (Reset makes one as good as new).
var inflaters sync.Pool

// idat feeds the IDAT payloads to the inflater chunk by chunk with the
// checks image/png's decoder.Read makes (each chunk's CRC verified when
// the next is needed; a chunk other than IDAT where more data is needed is
// "not enough pixel data"), and replays how image/png's zlib reader would
// have read them through its 4 KiB bufio.Reader. image/png accepts bytes
// after the zlib stream inside the last IDAT chunk exactly when that reader
// had already pulled them from the chunk; verdict decides the same.
type idat struct {
	d   *decoder
	dec *inflate.Decoder

	// The replay: bufio has pulled the stream up to filled and the zlib
	// reader has consumed it up to consumed. The chunk being pulled from
	// has its payload at file offset curPos, length curLen, and starts at
	// stream offset curStart.
	filled, consumed int64
	curPos, curLen   int
	curStart         int64
}

// next is the inflater's Source: the rest of the current IDAT chunk, or
// the next one's payload.
func (s *idat) next() ([]byte, error) {
	d := s.d
	for d.idatLength == 0 {
		if err := d.verifyChecksum(); err != nil {
			return nil, err
		}
		b, err := d.readFull(8)
		if err != nil {
			return nil, err
		}
		d.idatLength = binary.BigEndian.Uint32(b[:4])
		if string(b[4:8]) != "IDAT" {
			return nil, formatErr("not enough pixel data")
		}
		d.crc = crc32.Update(0, crc32.IEEETable, b[4:8])
	}
	if d.pos >= len(d.data) {
		return nil, io.EOF
	}
	// At most 4 KiB at a time: the inflater buffers what it is given, and
	// an IDAT stream it refuses early is then read only that far.
	n := min(len(d.data)-d.pos, bufSize)
	if int64(d.idatLength) < int64(n) {
		n = int(d.idatLength)
	}
	p := d.data[d.pos : d.pos+n]
	d.crc = crc32.Update(d.crc, crc32.IEEETable, p)
	d.pos += n
	d.idatLength -= uint32(n) // #nosec G115 -- n <= idatLength
	return p, nil
}

// pull replays one Read of up to req bytes by bufio from image/png's IDAT
// reader: it stops at the end of the current chunk, and moves to the next
// non-empty IDAT chunk when the current one is used up. It returns how
// many bytes it got (0 past what the file has).
func (s *idat) pull(req int64) int64 {
	if s.filled == s.curStart+int64(s.curLen) {
		pos := s.curPos + s.curLen + 4 // the next chunk's header
		for {
			if pos < 0 || len(s.d.data)-pos < 8 || string(s.d.data[pos+4:pos+8]) != "IDAT" {
				return 0
			}
			n := binary.BigEndian.Uint32(s.d.data[pos:])
			if int64(n) > int64(len(s.d.data)-pos-8) {
				return 0
			}
			if n > 0 {
				s.curStart += int64(s.curLen)
				s.curPos, s.curLen = pos+8, int(n)
				break
			}
			pos += 12
		}
	}
	n := min(req, s.curStart+int64(s.curLen)-s.filled)
	s.filled += n
	return n
}

// bufSize is the size of the bufio.Reader compress/zlib reads through.
const bufSize = 4096

// consumeTo replays the zlib reader consuming the stream up to off a byte
// (or a few) at a time: bufio refills its buffer whenever it is empty.
func (s *idat) consumeTo(off int64) {
	for s.consumed < off {
		if s.consumed == s.filled && s.pull(bufSize) == 0 {
			return
		}
		s.consumed = min(off, s.filled)
	}
}

// readFull replays io.ReadFull of n bytes through bufio: buffered bytes
// first, then reads of 4 KiB or more go straight to the IDAT reader.
func (s *idat) readFull(n int64) {
	for n > 0 {
		if s.consumed < s.filled {
			c := min(n, s.filled-s.consumed)
			s.consumed += c
			n -= c
			continue
		}
		if n >= bufSize {
			k := s.pull(n)
			if k == 0 {
				return
			}
			s.consumed += k
			n -= k
			continue
		}
		if s.pull(bufSize) == 0 {
			return
		}
	}
}

// stored replays compress/flate copying a stored block: into its 32 KiB
// history ring, so in reads that end at each 32 KiB of output.
func (s *idat) stored(in int64, n int, out int64) {
	s.consumeTo(in)
	for n > 0 {
		c := min(n, histRing-int(out%histRing))
		s.readFull(int64(c))
		n -= c
		out += int64(c)
	}
}

// histRing is compress/flate's history size.
const histRing = 32 << 10

// verdict runs after the stream has ended (Adler-32 checked): it is image/
// png's "too much pixel data" check, and leaves d where image/png's would
// be, before the last chunk's CRC.
func (s *idat) verdict() error {
	s.consumeTo(s.dec.Consumed())
	d := s.d
	end := s.curPos + s.curLen
	if s.filled != s.curStart+int64(s.curLen) || end > len(d.data) {
		return formatErr("too much pixel data")
	}
	d.pos = end
	d.idatLength = 0
	d.crc = crc32.ChecksumIEEE(d.data[s.curPos-4 : end])
	return nil
}

// newIdat starts the inflater on the IDAT chunk d is at (d.idatLength set,
// d.crc over its type).
func (d *decoder) newIdat() *idat {
	s := &idat{d: d, curPos: d.pos, curLen: int(d.idatLength)}
	if s.curLen < 0 {
		s.curLen = 0
	}
	dec, ok := inflaters.Get().(*inflate.Decoder)
	if ok {
		dec.Reset(s.next)
	} else {
		dec = inflate.NewDecoder(s.next)
	}
	dec.OnStored = s.stored
	s.dec = dec
	return s
}
