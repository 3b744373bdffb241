package jpegdec

import (
	"bytes"
	"image/jpeg"
	"testing"
)

// sofOffset returns the offset of data's SOF0/1/2 marker, or -1.
func sofOffset(data []byte) int {
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xff {
			return -1
		}
		m := data[i+1]
		if m == 0xc0 || m == 0xc1 || m == 0xc2 {
			return i
		}
		i += 2 + (int(data[i+2])<<8 | int(data[i+3]))
	}
	return -1
}

// dhtSegments returns the offsets of data's DHT markers.
func dhtSegments(data []byte) []int {
	var out []int
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xff {
			i++
			continue
		}
		m := data[i+1]
		if m == 0x00 || m == 0xff || 0xd0 <= m && m <= 0xd9 {
			i += 2
			continue
		}
		n := int(data[i+2])<<8 | int(data[i+3])
		if m == 0xc4 {
			out = append(out, i)
		}
		if m == 0xda {
			i += 2 + n // then entropy-coded data: the loop skips it byte by byte
			continue
		}
		i += 2 + n
	}
	return out
}

// TestDifferentialMutations runs the fuzz target's checks on systematic
// corruptions of small samples: truncations with an EOI appended (the data
// ends at a marker, with or without enough bits), random bytes, markers
// inserted into entropy-coded data, and Huffman tables made over-subscribed
// (where image/jpeg's 8-bit table and its bit-by-bit decoding disagree, and
// the decoders must agree on which it uses).
func TestDifferentialMutations(t *testing.T) {
	var picks []sample
	for _, s := range allSamples(t) {
		if len(s.data) <= 6000 {
			picks = append(picks, s)
		}
	}
	stats := map[string][2]int{} // mutation → image/jpeg successes, failures
	rng := newRand(9)
	iters, every := 6, 3
	if testing.Short() || raceEnabled {
		iters, every = 2, 24
	}
	for k, s := range picks {
		if k%every != 0 {
			continue
		}
		d := s.data
		for range iters {
			// Truncate, then end with EOI.
			p := 2 + rng.IntN(len(d)-2)
			checkMutation(t, stats, s.name, "truncate+EOI", append(bytes.Clone(d[:p]), 0xff, 0xd9))
			// A random byte.
			m := bytes.Clone(d)
			m[2+rng.IntN(len(d)-2)] = byte(rng.Uint32())
			checkMutation(t, stats, s.name, "byte", m)
			// A marker (RSTn, EOI, or other) inserted.
			p = 2 + rng.IntN(len(d)-2)
			mk := []byte{0xd0 + byte(rng.IntN(8)), 0xd9, 0xc4, 0x00, 0xff}[rng.IntN(5)]
			m = append(append(bytes.Clone(d[:p]), 0xff, mk), d[p:]...)
			checkMutation(t, stats, s.name, "marker", m)
		}
		// An empty image: width or height 0 in the SOF.
		if sof := sofOffset(d); sof > 0 {
			for _, f := range []int{5, 7} { // height, width
				m := bytes.Clone(d)
				m[sof+f], m[sof+f+1] = 0, 0
				checkMutation(t, stats, s.name, "empty", m)
			}
		}
		// Over-subscribe each Huffman table: move codes from the longest
		// lengths to a short one, keeping the segment's length.
		for _, off := range dhtSegments(d) {
			for short := 1; short <= 9; short += 2 {
				m := bytes.Clone(d)
				counts := m[off+5 : off+5+16]
				moved := 0
				for l := 15; l >= short && moved < 3; l-- {
					for counts[l] > 0 && moved < 3 {
						counts[l]--
						moved++
					}
				}
				counts[short-1] += byte(moved)
				checkMutation(t, stats, s.name, "oversubscribed", m)
				p := len(m) - 2 - rng.IntN(min(len(m)-2, 40))
				checkMutation(t, stats, s.name, "oversubscribed+truncated", append(bytes.Clone(m[:p]), 0xff, 0xd9))
			}
		}
	}
	t.Logf("image/jpeg [successes failures] by mutation: %v", stats)
}

func checkMutation(t *testing.T, stats map[string][2]int, name, what string, data []byte) {
	t.Helper()
	st := stats[what]
	if _, err := jpeg.Decode(bytes.NewReader(data)); err == nil {
		st[0]++
	} else {
		st[1]++
	}
	stats[what] = st
	ok := t.Run("", func(t *testing.T) { checkDecode(t, data) })
	if !ok {
		t.Fatalf("%s, %s: %q", name, what, data)
	}
}
