package inflate

import "math/bits"

// A table entry packs, from the low bits up: the number of bits the entry's
// codeword takes (8 bits; for a subtable pointer, the root bits), the extra
// bits that follow it (4 bits; for a pointer, the subtable's index bits),
// four flags, and a 16-bit value (a literal byte, a length or distance base,
// or a subtable's offset).
const (
	fLit = 1 << 12 // literal byte in the value
	fEOB = 1 << 13 // end of block
	fSub = 1 << 14 // pointer to a subtable
	fBad = 1 << 15 // no codeword, or a symbol the format forbids

	litRoot  = 11
	distRoot = 8
	clenRoot = 7
	// Table sizes for complete codes (root plus the largest possible
	// subtables), from zlib's enough program for these root sizes.
	litEnough  = 2342
	distEnough = 402
)

// litPayload and distPayload are each symbol's entry without its length.
var litPayload, distPayload = func() ([288]uint32, [32]uint32) {
	var lp [288]uint32
	var dp [32]uint32
	for s := range 256 {
		lp[s] = uint32(s)<<16 | fLit // #nosec G115 -- s < 256
	}
	lp[256] = fEOB
	base := uint32(3)
	for s := 257; s < 286; s++ {
		extra := uint32(0)
		if s >= 265 && s < 285 {
			extra = uint32(s-261) / 4 // #nosec G115 -- 1..5
		}
		if s == 285 {
			base = 258
		}
		lp[s] = base<<16 | extra<<8
		base += 1 << extra
	}
	lp[286], lp[287] = fBad, fBad
	base = 1
	for s := range 30 {
		extra := uint32(0)
		if s >= 4 {
			extra = uint32(s-2) / 2 // #nosec G115 -- 1..13
		}
		dp[s] = base<<16 | extra<<8
		base += 1 << extra
	}
	dp[30], dp[31] = fBad, fBad
	return lp, dp
}()

// clenPayload is the code-length code's symbols as entries.
var clenPayload = func() [19]uint32 {
	var p [19]uint32
	for s := range p {
		p[s] = uint32(s) << 16 // #nosec G115 -- s < 19
	}
	return p
}()

// Fixed-code tables (RFC 1951 3.2.6), built once.
var fixedLit, fixedDist = func() ([]uint32, []uint32) {
	var lens [288]uint8
	for i := range lens {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		default:
			lens[i] = 8
		}
	}
	var dl [32]uint8
	for i := range dl {
		dl[i] = 5
	}
	var sorted [320]uint16
	lt := make([]uint32, litEnough)
	dt := make([]uint32, distEnough)
	if !build(lt, litRoot, lens[:], litPayload[:], sorted[:]) || !build(dt, distRoot, dl[:], distPayload[:], sorted[:]) {
		panic("inflate: fixed tables")
	}
	return lt, dt
}()

// build fills table for the code lengths lens (symbol i has length
// lens[i], 0 for none) with root index bits, as compress/flate accepts
// codes: it reports false for an over-subscribed or incomplete code, except
// an empty code and a single code of length 1 (whose unused codewords, as
// every unused entry, are fBad: decoding one is an error). sorted is
// scratch of at least len(lens) entries.
func build(table []uint32, root uint, lens []uint8, payload []uint32, sorted []uint16) bool {
	var count [16]int
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	maxLen := 0
	for l := 15; l > 0; l-- {
		if count[l] > 0 {
			maxLen = l
			break
		}
	}
	size := 1 << root
	for i := range size {
		table[i] = fBad
	}
	if maxLen == 0 {
		return true
	}
	code := 0
	for l := 1; l <= maxLen; l++ {
		code = code<<1 + count[l]
	}
	if code != 1<<maxLen && (code != 1 || maxLen != 1) {
		return false
	}
	// Symbols sorted by (length, symbol): canonical code order.
	var offs [17]int
	for l := 1; l <= 15; l++ {
		offs[l+1] = offs[l] + count[l]
	}
	for s, l := range lens {
		if l != 0 {
			sorted[offs[l]] = uint16(s) // #nosec G115 -- s < 320
			offs[l]++
		}
	}
	n := offs[15] // offs[l] is now the end of length l; offs[15] the end of all
	next := size  // where the next subtable goes
	code = 0
	l := 1
	cnt := count
	for i := 0; i < n; i++ {
		for cnt[l] == 0 {
			l++
			code <<= 1
		}
		cnt[l]--
		s := sorted[i]
		r := int(bits.Reverse16(uint16(code)) >> (16 - l)) // #nosec G115 -- code < 1<<15
		code++
		if uint(l) <= root {
			e := payload[s] | uint32(l) // #nosec G115 -- l <= 15
			for j := r; j < size; j += 1 << l {
				table[j] = e
			}
			continue
		}
		prefix := r & (size - 1)
		if table[prefix]&fSub == 0 {
			// A new subtable: as zlib's inflate_table, it grows until the
			// codes left (this one included) fill it.
			sub := l - int(root)
			left := 1 << sub
			for sub+int(root) < maxLen {
				left -= cnt[sub+int(root)]
				if sub+int(root) == l {
					left-- // this code, already taken off cnt
				}
				if left <= 0 {
					break
				}
				sub++
				left <<= 1
			}
			if next+1<<sub > len(table) {
				return false
			}
			table[prefix] = uint32(next)<<16 | fSub | uint32(sub)<<8 | uint32(root) // #nosec G115 -- next < litEnough, sub <= 15
			for j := range 1 << sub {
				table[next+j] = fBad
			}
			next += 1 << sub
		}
		p := table[prefix]
		off := int(p >> 16)
		sub := int(p>>8) & 15
		sl := l - int(root)
		e := payload[s] | uint32(sl) // #nosec G115 -- sl <= 15
		for j := r >> root; j < 1<<sub; j += 1 << sl {
			table[off+j] = e
		}
	}
	return true
}
