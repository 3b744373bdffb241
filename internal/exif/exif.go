// Package exif is a minimal, bounds-checked reader of exactly one EXIF tag:
// Orientation (0x0112).
//
// Everything it reads is untrusted. Every offset and count taken from the
// input is checked against the bytes actually present before it is used, no
// loop runs for longer than the input allows, and nothing is allocated. Only
// IFD0 is examined: no other IFD, sub-IFD or pointer is ever followed, so
// offset cycles and pointer chasing cannot occur.
package exif

import (
	"bytes"
	"encoding/binary"
)

// Tag, type and layout constants from the TIFF 6.0 and EXIF 2.3 specifications.
const (
	exifHeader      = "Exif\x00\x00"
	tiffHeaderLen   = 8      // byte order (2) + magic 42 (2) + IFD0 offset (4)
	ifdEntryLen     = 12     // tag (2) + type (2) + count (4) + value/offset (4)
	tagOrientation  = 0x0112 //
	typeShort       = 3      // 16-bit unsigned integer
	orientationNone = 1      // "top-left": the default when the tag is absent
	orientationMax  = 8
	app1Marker      = 0xE1
	soiMarker       = 0xD8
	eoiMarker       = 0xD9
	sosMarker       = 0xDA
	rst0Marker      = 0xD0
	rst7Marker      = 0xD7
	temMarker       = 0x01
)

// Orientation returns the EXIF orientation (1..8) found in an APP1 payload
// that starts with "Exif\x00\x00", or 1 when the payload has no valid
// orientation tag. It never panics and never allocates proportional to counts
// in the input.
//
// The payload is the APP1 segment body, i.e. the bytes after the two length
// bytes. Only the first Orientation entry of IFD0 is considered; it must have
// type SHORT and count 1, and a value outside 1..8 yields 1.
func Orientation(app1 []byte) int {
	if len(app1) < len(exifHeader) || string(app1[:len(exifHeader)]) != exifHeader {
		return orientationNone
	}
	tiff := app1[len(exifHeader):] // all TIFF offsets are relative to here
	if len(tiff) < tiffHeaderLen {
		return orientationNone
	}

	var bo binary.ByteOrder
	switch {
	case tiff[0] == 'I' && tiff[1] == 'I' && tiff[2] == 42 && tiff[3] == 0:
		bo = binary.LittleEndian
	case tiff[0] == 'M' && tiff[1] == 'M' && tiff[2] == 0 && tiff[3] == 42:
		bo = binary.BigEndian
	default:
		return orientationNone
	}

	// IFD0: a uint16 entry count followed by count 12-byte entries. All the
	// arithmetic is done in uint64 so that a 32-bit offset near 2^32 cannot
	// wrap around on 32-bit platforms.
	ifd := uint64(bo.Uint32(tiff[4:8]))
	size := uint64(len(tiff))
	if ifd < tiffHeaderLen || ifd > size || size-ifd < 2 {
		return orientationNone
	}
	n := uint64(bo.Uint16(tiff[ifd : ifd+2]))
	entries := ifd + 2
	if n*ifdEntryLen > size-entries {
		return orientationNone // the count claims more entries than are present
	}

	for i := uint64(0); i < n; i++ {
		e := tiff[entries+i*ifdEntryLen : entries+(i+1)*ifdEntryLen]
		if bo.Uint16(e[0:2]) != tagOrientation {
			continue
		}
		// The first Orientation entry decides: a malformed one is not
		// overridden by a later duplicate.
		if bo.Uint16(e[2:4]) != typeShort || bo.Uint32(e[4:8]) != 1 {
			return orientationNone
		}
		// A single SHORT is stored inline, left-justified in the 4-byte
		// value field, in the file's byte order.
		v := int(bo.Uint16(e[8:10]))
		if v < 1 || v > orientationMax {
			return orientationNone
		}
		return v
	}
	return orientationNone
}

// FromJPEG walks the JPEG marker segments before the first SOS and returns the
// orientation from the first APP1 Exif segment (1 if none/invalid).
//
// APP1 segments that are not Exif (XMP, for example) are skipped. Like
// image/jpeg, the walk skips extraneous bytes between segments and 0xFF fill
// bytes before a marker. It stops, returning 1, at the first SOS or EOI, or at
// a segment whose length is below 2 or runs past the end of data.
func FromJPEG(data []byte) int {
	if len(data) < 2 || data[0] != 0xFF || data[1] != soiMarker {
		return orientationNone
	}
	p := 2
	for {
		i := bytes.IndexByte(data[p:], 0xFF)
		if i < 0 {
			return orientationNone
		}
		// Any marker may be preceded by any number of 0xFF fill bytes.
		p += i + 1
		for p < len(data) && data[p] == 0xFF {
			p++
		}
		if p >= len(data) {
			return orientationNone
		}
		marker := data[p]
		p++
		switch {
		case marker == sosMarker, marker == eoiMarker:
			return orientationNone
		case marker == 0x00, marker == temMarker, rst0Marker <= marker && marker <= rst7Marker:
			continue // extraneous "\xFF\x00", or a stand-alone marker: no length field
		}
		if len(data)-p < 2 {
			return orientationNone
		}
		length := int(data[p])<<8 | int(data[p+1])
		if length < 2 || length > len(data)-p {
			return orientationNone
		}
		payload := data[p+2 : p+length]
		if marker == app1Marker && len(payload) >= len(exifHeader) && string(payload[:len(exifHeader)]) == exifHeader {
			return Orientation(payload)
		}
		p += length
	}
}
