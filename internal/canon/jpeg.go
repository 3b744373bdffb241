package canon

import (
	"bytes"
	"image"
	"image/jpeg"
	"sync"
)

// jpegHeader is what image/jpeg writes before the entropy-coded data for one quality and
// component count, and where in it the frame's size sits.
type jpegHeader struct {
	b       []byte
	sizeOff int // offset of SOF0's height (2 bytes) and width (2 bytes)
}

// jpegHeaders caches reference headers by quality×2 + (components == 3).
var jpegHeaders sync.Map

// refJPEGHeader returns image/jpeg's own header for the quality and component count (1
// or 3), taken from encoding a 1×1 image: everything up to and including the SOS header.
// Quality is clipped to 1..100 as image/jpeg clips it.
func refJPEGHeader(quality, components int) (jpegHeader, error) {
	quality = min(max(quality, 1), 100)
	key := quality * 2
	if components == 3 {
		key++
	}
	if h, ok := jpegHeaders.Load(key); ok {
		return h.(jpegHeader), nil
	}
	var m image.Image = image.NewGray(image.Rect(0, 0, 1, 1))
	if components == 3 {
		m = image.NewRGBA(image.Rect(0, 0, 1, 1))
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: quality}); err != nil {
		return jpegHeader{}, err
	}
	b := buf.Bytes()
	var h jpegHeader
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xff {
			return jpegHeader{}, fail("jpeg: reference layout changed")
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		switch b[i+1] {
		case 0xc0:
			h.sizeOff = i + 5
		case 0xda:
			h.b = append([]byte(nil), b[:i+2+n]...)
			jpegHeaders.Store(key, h)
			return h, nil
		}
		i += 2 + n
	}
	return jpegHeader{}, fail("jpeg: reference layout changed")
}

// JPEG checks b against image/jpeg's baseline layout at the given quality (1..100, as
// passed to jpeg.Options) and returns the frame's size.
func JPEG(b []byte, quality int) (width, height int, err error) {
	// SOI, DQT (4+130) and SOF0's marker, length and precision come before the component count.
	const ncOff = 2 + 4 + 130 + 9
	if len(b) <= ncOff || (b[ncOff] != 1 && b[ncOff] != 3) {
		return 0, 0, fail("jpeg: no frame header where our encoder writes it")
	}
	ref, err := refJPEGHeader(quality, int(b[ncOff]))
	if err != nil {
		return 0, 0, err
	}
	n, so := len(ref.b), ref.sizeOff
	if len(b) < n+2 || !bytes.Equal(b[:so], ref.b[:so]) || !bytes.Equal(b[so+4:n], ref.b[so+4:]) {
		return 0, 0, fail("jpeg: headers are not our encoder's for quality %d", min(max(quality, 1), 100))
	}
	height = int(b[so])<<8 | int(b[so+1])
	width = int(b[so+2])<<8 | int(b[so+3])
	if width == 0 || height == 0 {
		return 0, 0, fail("jpeg: zero size")
	}
	// Entropy-coded data: 0xFF only as a stuffed 0xFF00 (no restart markers: our encoder
	// writes none), then EOI, last.
	data := b[n:]
	for {
		i := bytes.IndexByte(data, 0xff)
		if i < 0 || i+1 >= len(data) {
			return 0, 0, fail("jpeg: no end of image")
		}
		switch data[i+1] {
		case 0x00:
			data = data[i+2:]
			continue
		case 0xd9:
			if i+2 != len(data) {
				return 0, 0, fail("jpeg: %d bytes after the end of image", len(data)-i-2)
			}
			return width, height, nil
		}
		return 0, 0, fail("jpeg: marker in the entropy-coded data")
	}
}
