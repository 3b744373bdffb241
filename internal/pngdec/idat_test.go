package pngdec

import (
	"bytes"
	"compress/zlib"
	"image/png"
	"math/rand/v2"
	"testing"
)

// trailingPNG is an RGB image of w×h whose zlib stream (at level) is
// followed by junk bytes inside the IDAT data, which is split into chunks
// of the sizes split returns.
func trailingPNG(rng *rand.Rand, w, h, level, junk int, split func() int) []byte {
	raw := make([]byte, (1+3*w)*h)
	for i := range raw {
		raw[i] = byte(i / 97 % 7) // compressible, with some stored-worthy noise below
	}
	for i := 0; i < len(raw); i += 1 + 3*w {
		raw[i] = byte(rng.IntN(5))
		if rng.IntN(3) == 0 {
			fill(rng, raw[i+1:i+1+3*w])
		}
	}
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, level)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	stream := z.Bytes()
	for range junk {
		stream = append(stream, byte(rng.IntN(256)))
	}
	c := rawCfg{w: w, h: h, depth: 8, ct: 2}
	small := rawPNG(rng, c)
	b := []byte(pngHeader)
	b = chunk(b, "IHDR", small[16:29])
	for len(stream) > 0 {
		n := min(len(stream), split())
		b = chunk(b, "IDAT", stream[:n])
		stream = stream[n:]
	}
	return chunk(b, "IEND", nil)
}

// TestTrailingBytesInIDATAsImagePNG: bytes after the zlib stream inside
// the last IDAT chunk are accepted exactly when image/png accepts them
// (when its zlib reader's 4 KiB bufio.Reader had already pulled them, which
// depends on the chunk sizes and, for stored blocks, on compress/flate's
// 32 KiB history); Decode and Stream agree with image/png on every file.
func TestTrailingBytesInIDATAsImagePNG(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 19))
	accepted, refused := 0, 0
	splits := map[string]func() int{
		"one":    func() int { return 1 << 30 },
		"4096":   func() int { return 4096 },
		"8192":   func() int { return 8192 },
		"random": func() int { return 1 + rng.IntN(9000) },
		"small":  func() int { return 1 + rng.IntN(300) },
		"5000":   func() int { return 5000 },
	}
	for _, level := range []int{zlib.NoCompression, zlib.BestSpeed, zlib.DefaultCompression} {
		for name, split := range splits {
			for _, junk := range []int{0, 1, 3, 700, 4000, 4100, 9000} {
				for _, size := range [][2]int{{40, 30}, {150, 120}} {
					data := trailingPNG(rng, size[0], size[1], level, junk, split)
					_, werr := png.Decode(bytes.NewReader(data))
					if werr == nil {
						accepted++
					} else {
						refused++
					}
					t.Run("", func(t *testing.T) {
						t.Logf("level %d split %s junk %d size %v", level, name, junk, size)
						checkAgainstPNG(t, data, 1<<20)
					})
				}
			}
		}
	}
	t.Logf("image/png accepted %d, refused %d", accepted, refused)
	if accepted == 0 || refused < 10 {
		t.Fatalf("image/png accepted %d, refused %d: the cases do not cover both", accepted, refused)
	}
}
