// Package jpegscan validates the marker structure of an untrusted JPEG and
// reports its frame header (size, components, progressive, Adobe transform),
// without decoding anything.
//
// Scan walks the marker segments in a single linear pass over the input. It
// allocates only the Components slice (at most four entries) and the error
// value on failure; in particular nothing is sized by a count, length or
// dimension taken from the input. It mirrors the checks that
// $GOROOT/src/image/jpeg/reader.go and scan.go make on frame and scan headers,
// so that an image Scan accepts is one image/jpeg is prepared to decode (the
// entropy-coded data itself, and the contents of the DQT and DHT tables, are
// not checked: Scan does no decoding).
//
// Where the Go decoder is lenient Scan is lenient in the same way (extraneous
// bytes between segments, 0xFF fill bytes, stray RST markers, data after EOI),
// with one exception: a width of 0, which image/jpeg decodes to an empty
// image, is ErrMalformed. Where the Go decoder fails Scan fails too, usually
// earlier. Before decoding, a caller should check Width and Height against
// its limits and size the decode's memory from the frame header (the Cache
// does so with jpegdec.AllocBytes, the estimate of the decoder it runs):
// Scan itself bounds only the number of scans.
package jpegscan

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fastimagecache/fastimagecache/internal/exif"
)

// Sentinel errors. Every error returned by Scan wraps exactly one of them
// (test with errors.Is); the wrapping text says what was wrong.
var (
	// ErrMalformed reports input that is not a well-formed JPEG, or one that
	// image/jpeg rejects as a FormatError or for being truncated.
	ErrMalformed = errors.New("jpegscan: malformed JPEG")
	// ErrUnsupported reports a well-formed JPEG using a feature image/jpeg
	// cannot decode: lossless, hierarchical or arithmetic-coded frames, a
	// precision other than 8 bits, DNL (height 0), an unusual component count
	// or sampling ratio, or a 4-component image without Adobe APP14 metadata.
	ErrUnsupported = errors.New("jpegscan: unsupported JPEG feature")
	// ErrTooManyScans reports more SOS segments than the caller allows. Each
	// scan is a full pass over the image, so a progressive JPEG made of
	// thousands of tiny scans is a CPU bomb.
	ErrTooManyScans = errors.New("jpegscan: too many scans")
)

// Component is one frame component from the SOF segment, as written in the
// file.
type Component struct {
	ID int // component identifier C_i
	H  int // horizontal sampling factor, 1..4
	V  int // vertical sampling factor, 1..4
	Tq int // quantization table selector, 0..3
}

// Info describes a JPEG as seen by Scan.
type Info struct {
	Width, Height  int
	Progressive    bool        // SOF2
	Components     []Component // 1, 3 or 4 (≤ 4 entries, so bounded)
	Scans          int         // SOS markers seen
	AdobeTransform int         // -1 when there is no Adobe APP14 segment, else its transform byte
	Orientation    int         // EXIF orientation via exif.Orientation, 1 when absent
}

// Marker codes, from table B.1 of ITU-T T.81.
const (
	sof0Marker  = 0xC0 // baseline sequential DCT
	sof1Marker  = 0xC1 // extended sequential DCT
	sof2Marker  = 0xC2 // progressive DCT
	dhtMarker   = 0xC4
	rst0Marker  = 0xD0
	rst7Marker  = 0xD7
	soiMarker   = 0xD8
	eoiMarker   = 0xD9
	sosMarker   = 0xDA
	dqtMarker   = 0xDB
	driMarker   = 0xDD
	app0Marker  = 0xE0
	app1Marker  = 0xE1
	app14Marker = 0xEE
	app15Marker = 0xEF
	comMarker   = 0xFE

	blockSize     = 64 // coefficients in an 8x8 block: Se is below it
	maxComponents = 4
	maxTq         = 3
	maxTh         = 3
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
}

// Scan walks JPEG marker segments: SOI, APPn, DQT, DHT, DRI, COM, SOFn, SOS
// (then skips the entropy-coded data: bytes until 0xFF followed by a byte that
// is neither 0x00 nor RST0..RST7 (0xD0..0xD7); 0xFF fill bytes may repeat), up
// to EOI or end of data.
//
// Reaching the end of data without an EOI marker is ErrMalformed, as is an EOI
// with no SOF or no SOS before it: image/jpeg's Decode fails on all three
// ("unexpected EOF", "missing SOS marker"). Anything after EOI is ignored, as
// image/jpeg does. As soon as more than maxScans SOS segments have been seen
// Scan returns ErrTooManyScans; a maxScans below 1 therefore rejects every
// image.
//
// On error the returned Info holds what had been parsed before the failure;
// it is meant for diagnostics only.
func Scan(data []byte, maxScans int) (Info, error) {
	info := Info{AdobeTransform: -1, Orientation: 1}
	if len(data) < 2 || data[0] != 0xFF || data[1] != soiMarker {
		return info, malformed("missing SOI marker")
	}
	var (
		comps    [maxComponents]Component // the frame, once seen
		nComp    int                      // 0 until the SOF has been seen
		baseline bool                     // SOF0
		exifDone bool                     // the first APP1 Exif segment has been read
	)
	p := 2
	for {
		// Find the next marker. Like image/jpeg (and libjpeg), bytes that are
		// not part of a marker are skipped as extraneous data, "\xFF\x00" is
		// extraneous too, and a marker may be preceded by 0xFF fill bytes.
		i := bytes.IndexByte(data[p:], 0xFF)
		if i < 0 {
			return info, malformed("missing EOI marker")
		}
		p += i + 1
		filled := false
		for p < len(data) && data[p] == 0xFF {
			p++
			filled = true
		}
		if p >= len(data) {
			return info, malformed("missing EOI marker")
		}
		marker := data[p]
		p++
		if marker == 0x00 && filled {
			// image/jpeg skips FF 00 only right after the first 0xFF; after
			// fill bytes, 0x00 is read as a marker it does not know.
			return info, malformed("unknown marker 0x00 after fill bytes")
		}
		if marker == 0x00 || rst0Marker <= marker && marker <= rst7Marker {
			// Extraneous "\xFF\x00", or a stray restart marker after the
			// last entropy-coded segment: image/jpeg ignores both.
			continue
		}
		if marker == eoiMarker {
			break
		}

		// Every other marker has a 16-bit length that counts itself.
		if len(data)-p < 2 {
			return info, malformed("truncated length of marker 0x%02X", marker)
		}
		length := int(data[p])<<8 | int(data[p+1])
		if length < 2 {
			return info, malformed("marker 0x%02X: segment length %d < 2", marker, length)
		}
		if length > len(data)-p {
			return info, malformed("marker 0x%02X: segment length %d runs past end of data", marker, length)
		}
		seg := data[p+2 : p+length] // the payload, without the length bytes
		p += length

		switch {
		case marker == sof0Marker || marker == sof1Marker || marker == sof2Marker:
			if nComp != 0 {
				return info, malformed("multiple SOF markers")
			}
			n, err := parseSOF(seg, &info, &comps)
			if err != nil {
				return info, err
			}
			nComp = n
			baseline = marker == sof0Marker
			info.Progressive = marker == sof2Marker

		case marker == sosMarker:
			if nComp == 0 {
				return info, malformed("SOS before SOF")
			}
			info.Scans++
			if info.Scans > maxScans {
				return info, fmt.Errorf("%w: more than %d", ErrTooManyScans, maxScans)
			}
			if err := checkSOS(seg, comps[:nComp], baseline, info.Progressive); err != nil {
				return info, err
			}
			p = skipEntropyData(data, p)

		case marker == dhtMarker || marker == dqtMarker || marker == comMarker:
			// Table contents are the decoder's business: they do not affect
			// any size, and image/jpeg validates them as it reads them.

		case marker == driMarker:
			if len(seg) != 2 {
				return info, malformed("DRI has wrong length")
			}

		case marker == app1Marker:
			// Only the first Exif APP1, and only before the first scan:
			// metadata after image data is not metadata of this image.
			if !exifDone && info.Scans == 0 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
				exifDone = true
				info.Orientation = exif.Orientation(seg)
			}

		case marker == app14Marker:
			// image/jpeg needs at least 12 payload bytes ("Adobe", version,
			// flags0, flags1, transform) and lets a later segment override
			// an earlier one; so does Scan.
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				info.AdobeTransform = int(seg[11])
			}

		case app0Marker <= marker && marker <= app15Marker:
			// Other application data: skipped.

		case marker < sof0Marker:
			// Reserved (including TEM, 0x01): image/jpeg's FormatError.
			return info, malformed("unknown marker 0x%02X", marker)

		default:
			// SOF3, SOF5..SOF7 (lossless, hierarchical), SOF9..SOF15
			// (arithmetic coding), DAC, DNL, DHP, EXP, JPGn: image/jpeg's
			// UnsupportedError.
			return info, unsupported("marker 0x%02X", marker)
		}
	}

	if nComp == 0 {
		return info, malformed("missing SOF marker")
	}
	if info.Scans == 0 {
		return info, malformed("missing SOS marker")
	}
	if nComp == 4 && info.AdobeTransform < 0 {
		// image/jpeg decodes the whole image and only then fails with
		// "unknown color model: 4-component JPEG doesn't have Adobe APP14
		// metadata"; fail before the allocation instead.
		return info, unsupported("4-component JPEG without Adobe APP14 metadata")
	}
	return info, nil
}

// parseSOF checks a SOF0/1/2 payload the way image/jpeg's processSOF does and
// fills in info and comps. It returns the number of components.
func parseSOF(seg []byte, info *Info, comps *[maxComponents]Component) (int, error) {
	// P (1), Y (2), X (2), Nf (1), then Nf × {C, H<<4|V, Tq}.
	if len(seg) < 6 {
		return 0, malformed("SOF too short")
	}
	if seg[0] != 8 {
		return 0, unsupported("precision %d", seg[0])
	}
	n := int(seg[5])
	if n != 1 && n != 3 && n != 4 {
		return 0, unsupported("number of components %d", n)
	}
	if len(seg) != 6+3*n {
		return 0, malformed("SOF length %d for %d components", len(seg)+2, n)
	}
	height := int(seg[1])<<8 | int(seg[2])
	width := int(seg[3])<<8 | int(seg[4])
	if height == 0 {
		return 0, unsupported("height 0 (DNL)")
	}
	if width == 0 {
		return 0, malformed("width 0")
	}
	info.Width, info.Height = width, height

	for i := 0; i < n; i++ {
		b := seg[6+3*i:]
		c := Component{ID: int(b[0]), H: int(b[1] >> 4), V: int(b[1] & 0x0F), Tq: int(b[2])}
		for j := 0; j < i; j++ {
			if comps[j].ID == c.ID {
				return 0, malformed("repeated component identifier %d", c.ID)
			}
		}
		if c.Tq > maxTq {
			return 0, malformed("bad Tq value %d", c.Tq)
		}
		if c.H < 1 || c.H > 4 || c.V < 1 || c.V > 4 {
			return 0, malformed("sampling factors %dx%d", c.H, c.V)
		}
		if !samplingSupported(n, i, c, comps) {
			return 0, unsupported("sampling factors %dx%d for component %d of %d", c.H, c.V, i, n)
		}
		comps[i] = c
	}
	info.Components = append(make([]Component, 0, n), comps[:n]...)
	return n, nil
}

// samplingSupported applies image/jpeg's restrictions on the sampling factors
// of component i of n; an image violating them is valid JPEG that Go cannot
// decode.
func samplingSupported(n, i int, c Component, comps *[maxComponents]Component) bool {
	if c.H == 3 || c.V == 3 {
		return false
	}
	switch n {
	case 3:
		// 4:4:4, 4:4:0, 4:2:2, 4:2:0, 4:1:1 or 4:1:0: the luma factors are
		// a multiple of the chroma ones and both chroma components agree.
		switch i {
		case 0:
			if c.V == 4 {
				return false
			}
		case 1:
			if comps[0].H%c.H != 0 || comps[0].V%c.V != 0 {
				return false
			}
		case 2:
			if comps[1].H != c.H || comps[1].V != c.V {
				return false
			}
		}
	case 4:
		// Only 11 11 11 11 and 22 11 11 22.
		switch i {
		case 0:
			if c.H != c.V || c.H > 2 {
				return false
			}
		case 1, 2:
			if c.H != 1 || c.V != 1 {
				return false
			}
		case 3:
			if comps[0].H != c.H || comps[0].V != c.V {
				return false
			}
		}
	}
	return true
}

// checkSOS checks a SOS payload the way image/jpeg's processSOS does.
func checkSOS(seg []byte, frame []Component, baseline, progressive bool) error {
	// Ns (1), Ns × {Cs, Td<<4|Ta}, Ss (1), Se (1), Ah<<4|Al (1).
	if len(seg) < 1 {
		return malformed("SOS too short")
	}
	ns := int(seg[0])
	if ns < 1 || ns > maxComponents {
		return malformed("SOS component count %d", ns)
	}
	if len(seg) != 4+2*ns {
		return malformed("SOS length %d for %d components", len(seg)+2, ns)
	}
	if ns > len(frame) || len(frame) > maxComponents {
		return malformed("SOS has %d components, frame has %d", ns, len(frame))
	}
	var seen uint8 // bit k: frame[k] already selected
	totalHV := 0
	for i := 0; i < ns; i++ {
		cs, t := int(seg[1+2*i]), seg[2+2*i]
		k, hv := -1, 0
		for j, c := range frame {
			if c.ID == cs {
				k, hv = j, c.H*c.V
			}
		}
		if k < 0 {
			return malformed("unknown component selector %d", cs)
		}
		if seen&(1<<k) != 0 {
			return malformed("repeated component selector %d", cs)
		}
		seen |= 1 << k
		if len(frame) > 1 {
			totalHV += hv
		}
		td, ta := t>>4, t&0x0F
		if td > maxTh || baseline && td > 1 {
			return malformed("bad Td value %d", td)
		}
		if ta > maxTh || baseline && ta > 1 {
			return malformed("bad Ta value %d", ta)
		}
	}
	if totalHV > 10 {
		return malformed("total sampling factors %d > 10", totalHV)
	}
	if progressive {
		ss, se := seg[1+2*ns], seg[2+2*ns]
		ah, al := seg[3+2*ns]>>4, seg[3+2*ns]&0x0F
		if ss == 0 && se != 0 || ss > se || se >= blockSize {
			return malformed("bad spectral selection %d..%d", ss, se)
		}
		if ss != 0 && ns != 1 {
			return malformed("progressive AC scan with %d components", ns)
		}
		if ah != 0 && ah != al+1 {
			return malformed("bad successive approximation %d/%d", ah, al)
		}
	}
	return nil
}

// skipEntropyData returns the offset of the 0xFF that starts the first marker
// at or after p that ends the entropy-coded data: 0xFF (after any 0xFF fill
// bytes) followed by a byte that is neither 0x00 (a stuffed 0xFF data byte) nor
// RST0..RST7. It returns len(data) when there is none.
func skipEntropyData(data []byte, p int) int {
	for {
		i := bytes.IndexByte(data[p:], 0xFF)
		if i < 0 {
			return len(data)
		}
		ff := p + i
		q := ff + 1
		for q < len(data) && data[q] == 0xFF {
			q++
		}
		if q >= len(data) {
			return len(data)
		}
		if m := data[q]; m != 0x00 && (m < rst0Marker || m > rst7Marker) {
			return ff
		}
		p = q + 1
	}
}
