package thumbhash

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// image builds a w×h RGBA buffer from f.
func image(w, h int, f func(x, y int) [4]byte) []byte {
	b := make([]byte, 0, 4*w*h)
	for y := range h {
		for x := range w {
			p := f(x, y)
			b = append(b, p[:]...)
		}
	}
	return b
}

// meanError compares a decoded placeholder with the source, sampled at the same
// relative positions, in 0..255 per channel.
func meanError(t *testing.T, w, h int, src []byte, hash []byte) float64 {
	t.Helper()
	dw, dh, dec, err := Decode(hash)
	require.NoError(t, err)
	var sum float64
	for y := range dh {
		for x := range dw {
			sx, sy := (2*x+1)*w/(2*dw), (2*y+1)*h/(2*dh)
			for c := range 4 {
				sum += math.Abs(float64(dec[4*(y*dw+x)+c]) - float64(src[4*(sy*w+sx)+c]))
			}
		}
	}
	return sum / float64(4*dw*dh)
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		w, h    int
		f       func(x, y int) [4]byte
		maxErr  float64
		aspect  float64 // decoded w/h: the hash keeps the ratio of its coefficient counts
		isAlpha bool
	}{
		{"solid", 60, 40, func(x, y int) [4]byte { return [4]byte{200, 120, 40, 255} }, 4, 7.0 / 5, false},
		{"horizontal gradient", 100, 50, func(x, y int) [4]byte { return [4]byte{byte(255 - 2*x), 60, byte(2 * x), 255} }, 16, 7.0 / 4, false},
		{"vertical gradient", 30, 90, func(x, y int) [4]byte { return [4]byte{byte(y * 2), byte(y * 2), byte(y * 2), 255} }, 16, 2.0 / 7, false},
		{"fading alpha", 80, 80, func(x, y int) [4]byte { return [4]byte{20, 200, 90, byte(255 * x / 79)} }, 24, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := image(tc.w, tc.h, tc.f)
			hash, err := Encode(tc.w, tc.h, src)
			require.NoError(t, err)
			assert.LessOrEqual(t, len(hash), 25)
			assert.Equal(t, tc.isAlpha, hash[2]&0x80 != 0, "alpha flag")
			e := meanError(t, tc.w, tc.h, src, hash)
			assert.Less(t, e, tc.maxErr, "mean error")
			dw, dh, _, err := Decode(hash)
			require.NoError(t, err)
			assert.InDelta(t, tc.aspect, float64(dw)/float64(dh), 0.1, "%dx%d", dw, dh)
		})
	}
}

// TestDetail: the placeholder keeps where things are: a red left half and a blue right
// half decode red on the left and blue on the right.
func TestDetail(t *testing.T) {
	src := image(64, 64, func(x, y int) [4]byte {
		if x < 32 {
			return [4]byte{255, 0, 0, 255}
		}
		return [4]byte{0, 0, 255, 255}
	})
	hash, err := Encode(64, 64, src)
	require.NoError(t, err)
	w, h, dec, err := Decode(hash)
	require.NoError(t, err)
	left, right := 4*(h/2*w+2), 4*(h/2*w+w-3)
	assert.Greater(t, int(dec[left]), int(dec[left+2])+100, "left is red: %v", dec[left:left+4])
	assert.Greater(t, int(dec[right+2]), int(dec[right])+100, "right is blue: %v", dec[right:right+4])
}

func TestEncodeRefusesSizes(t *testing.T) {
	for _, sz := range [][2]int{{0, 1}, {1, 0}, {101, 10}, {10, 101}, {-1, 5}} {
		_, err := Encode(sz[0], sz[1], make([]byte, 4*max(0, sz[0]*sz[1])))
		assert.ErrorIs(t, err, ErrSize, "%v", sz)
	}
	_, err := Encode(2, 2, make([]byte, 15))
	assert.ErrorIs(t, err, ErrSize)
}

func TestDecodeRefusesShortHashes(t *testing.T) {
	hash, err := Encode(40, 40, image(40, 40, func(x, y int) [4]byte { return [4]byte{byte(x), byte(y), 0, byte(x * 6)} }))
	require.NoError(t, err)
	for n := range len(hash) {
		_, _, _, err := Decode(hash[:n])
		assert.ErrorIs(t, err, ErrMalformed, "%d bytes", n)
	}
}
