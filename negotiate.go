package fastimagecache

import (
	"slices"
	"strings"
)

// accepted is the set of negotiable output formats a client's Accept header admits:
// only AVIF and WebP are negotiated, everything else falls back to the source's default.
type accepted uint8

const (
	acceptAVIF accepted = 1 << iota
	acceptWebP
)

// Bounds on the work parseAccept does. Browsers send under 200 bytes and 10 elements; a
// header over either bound is treated as no Accept at all (the source's default format):
// reading only a prefix of it could miss a later q=0 that refuses a format.
const (
	maxAcceptBytes    = 4 << 10
	maxAcceptElements = 64
)

// parseAccept reads an Accept header value (RFC 9110, section 12.5.1) into the set of
// negotiable formats it admits. It follows the bugs peers shipped:
//
//   - Media types and parameter names are case-insensitive; parameters may be quoted
//     strings (with commas and semicolons inside).
//   - Only the exact types image/avif and image/webp count: "*/*" and "image/*" are sent by
//     clients that decode neither (curl, crawlers, old browsers), so they admit nothing.
//   - "q=0" in any spelling (0, 0., 0.0, 0.000) refuses the type, and a refusal wins over
//     an acceptance of the same type elsewhere in the header.
//   - Any other q (0.001 to 1) accepts the type; it does not reorder the server's
//     preference (AVIF, then WebP), so a client gets at most the three renditions a source
//     has under Auto.
//   - An element naming avif or webp whose parameters are malformed (a bad q, an
//     unterminated quote, a parameter without "=") refuses that type; any other malformed
//     element is ignored. A header over maxAcceptBytes or maxAcceptElements admits nothing.
//
// The work is linear in the header and bounded by maxAcceptBytes.
func parseAccept(h string) accepted {
	if len(h) > maxAcceptBytes {
		return 0
	}
	var grant, refuse accepted
	elements := 0
	for rest := h; rest != ""; {
		var elem string
		elem, rest = cutUnquoted(rest, ',')
		elem = trimOWS(elem)
		if elem == "" {
			continue // the list syntax allows empty elements
		}
		if elements++; elements > maxAcceptElements {
			return 0
		}
		rng, params := cutUnquoted(elem, ';')
		var f accepted
		switch rng = trimOWS(rng); {
		case asciiEqualFold(rng, "image/avif"):
			f = acceptAVIF
		case asciiEqualFold(rng, "image/webp"):
			f = acceptWebP
		default:
			continue // wildcards, other types and malformed ranges admit nothing
		}
		if q, ok := acceptWeight(params); !ok || q == 0 {
			refuse |= f
		} else {
			grant |= f
		}
	}
	return grant &^ refuse
}

// acceptWeight parses the parameters of one Accept element (what follows its media range,
// semicolon-separated) and returns its weight in thousandths (1000 when no q is given).
// ok is false when any parameter is malformed or q appears twice.
func acceptWeight(params string) (q int, ok bool) {
	q = 1000
	seenQ := false
	for params != "" {
		var p string
		p, params = cutUnquoted(params, ';')
		p = trimOWS(p)
		if p == "" {
			continue // RFC 9110 allows empty parameters
		}
		name, value, found := strings.Cut(p, "=")
		if !found || !isToken(name) || !(isToken(value) || isQuotedString(value)) {
			return 0, false
		}
		if name == "q" || name == "Q" {
			if seenQ {
				return 0, false
			}
			seenQ = true
			var qok bool
			if q, qok = parseQValue(value); !qok {
				return 0, false
			}
		}
	}
	return q, true
}

// parseQValue parses a weight as RFC 9110 spells it, ( "0" [ "." 0*3DIGIT ] ) /
// ( "1" [ "." 0*3("0") ] ), into thousandths. Anything else is malformed.
func parseQValue(s string) (int, bool) {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	whole := int(s[0] - '0')
	frac := s[1:]
	if frac == "" {
		return whole * 1000, true
	}
	if frac[0] != '.' {
		return 0, false
	}
	frac = frac[1:]
	n, scale := 0, 100
	for i := 0; i < len(frac); i++ {
		c := frac[i]
		if c < '0' || c > '9' || (whole == 1 && c != '0') {
			return 0, false
		}
		n += int(c-'0') * scale
		scale /= 10
	}
	return whole*1000 + n, true
}

// cutUnquoted cuts s around the first sep outside a quoted string. An unterminated quoted
// string runs to the end of s (and fails isQuotedString later).
func cutUnquoted(s string, sep byte) (before, after string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++ // the escaped byte, whatever it is
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == sep:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// asciiEqualFold reports whether s equals the lower-case ASCII string lower, ignoring the
// case of ASCII letters only (strings.EqualFold would also fold the Kelvin sign to "k").
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// trimOWS removes optional whitespace (spaces and tabs) around s.
func trimOWS(s string) string { return strings.Trim(s, " \t") }

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isQuotedString reports whether s is exactly one RFC 9110 quoted-string.
func isQuotedString(s string) bool {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		switch c := s[i]; {
		case c == '\\':
			if i++; i >= len(s)-1 {
				return false // the closing quote was escaped
			}
		case c == '"', c < 0x20 && c != '\t', c == 0x7f:
			return false
		}
	}
	return true
}

// autoFormat is the format Auto resolves to for a source src, given what the client
// accepts. An animation goes only to a format that keeps it: animated WebP when accepted,
// else GIF; never AVIF. A still image goes to AVIF, else WebP, else "" (the source's own
// default: see defaultOutput; transparency never goes to JPEG).
func autoFormat(acc accepted, src Info) Format {
	if src.Frames > 1 {
		if acc&acceptWebP != 0 {
			return WebP
		}
		return GIF
	}
	switch {
	case acc&acceptAVIF != 0:
		return AVIF
	case acc&acceptWebP != 0:
		return WebP
	}
	return ""
}

// negotiate returns s with an Auto format resolved for the source src and the Accept
// header accept; any other Spec is returned as it is. It runs before canonical, so only
// the negotiated format, never the header, reaches the rendition key and the ETag.
func (s Spec) negotiate(accept string, src Info) Spec {
	if s.Format == Auto {
		s.Format = autoFormat(parseAccept(accept), src)
	}
	return s
}

// variants returns the Specs s stands for on the source src: for Auto, one per format it
// can negotiate (AVIF, WebP and the default for a still image; WebP and GIF for an
// animation), in the order of autoFormat's preference; otherwise s alone.
func (s Spec) variants(src Info) []Spec {
	if s.Format != Auto {
		return []Spec{s}
	}
	var out []Spec
	for _, acc := range []accepted{acceptAVIF | acceptWebP, acceptWebP, 0} {
		v := s
		v.Format = autoFormat(acc, src)
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
