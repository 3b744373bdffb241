package jpegdec

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"sync"
	"testing"
)

var benchFiles sync.Map // name → []byte

// benchJPEG returns a generated w×h photo-like JPEG, 4:2:0 q85 baseline from
// image/jpeg's encoder, or progressive from the test encoder.
func benchJPEG(b *testing.B, w, h int, progressive bool) []byte {
	key := fmt.Sprintf("%dx%d/%v", w, h, progressive)
	if v, ok := benchFiles.Load(key); ok {
		return v.([]byte)
	}
	m := naturalImage(w, h, 42)
	var data []byte
	if progressive {
		e := ycbcrEncoder(m, 2, 2, 1, 1, 85)
		e.progressive = true
		data = e.encode()
	} else {
		data = stdEncode(b, m, 85)
	}
	benchFiles.Store(key, data)
	return data
}

func benchDecode(b *testing.B, data []byte) {
	b.Run("stdlib", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, opt := range []Options{{Scale: 1}, {Scale: 2}, {Scale: 4}, {Scale: 8}, {Scale: 8, SkipAC: true}} {
		name := fmt.Sprintf("scale%d", opt.Scale)
		if opt.SkipAC {
			name += "-skipac"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Decode(bytes.NewReader(data), opt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode decodes generated 4:2:0 q85 baseline JPEGs of 12 and 3
// megapixels. (SkipAC makes no difference to a baseline image.)
func BenchmarkDecode(b *testing.B) {
	for _, sz := range [][2]int{{4000, 3000}, {2000, 1500}} {
		data := benchJPEG(b, sz[0], sz[1], false)
		b.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(b *testing.B) { benchDecode(b, data) })
	}
}

// BenchmarkDecodeProgressive decodes a generated 2000×1500 4:2:0 q85
// progressive JPEG (libjpeg's default scan script).
func BenchmarkDecodeProgressive(b *testing.B) {
	data := benchJPEG(b, 2000, 1500, true)
	b.Run("2000x1500", func(b *testing.B) { benchDecode(b, data) })
}
