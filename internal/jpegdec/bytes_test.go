package jpegdec

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stuffedJPEG returns a baseline JPEG of noise at quality 100, whose
// entropy-coded data has many 0xff bytes (each stuffed as "\xff\x00"), at
// every offset modulo 8 from the start of the data, with a restart
// interval of ri MCUs (0: none).
func stuffedJPEG(t testing.TB, ri int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, 256, 160))
	r := newRand(7)
	for i := range m.Pix {
		m.Pix[i] = byte(r.IntN(256))
	}
	e := ycbcrEncoder(m, 2, 2, 1, 1, 100)
	e.restart = ri
	return e.encode()
}

// sosData returns the offset of the first scan's entropy-coded data.
func sosData(t testing.TB, data []byte) int {
	t.Helper()
	for i := 2; i+4 <= len(data); {
		require.Equal(t, byte(0xff), data[i])
		n := int(data[i+2])<<8 | int(data[i+3])
		if data[i+1] == sosMarker {
			return i + 2 + n
		}
		i += 2 + n
	}
	t.Fatal("no SOS")
	return 0
}

// TestStuffedBytesEveryOffset checks that a file whose entropy-coded data
// has stuffed 0xff bytes at every offset modulo 8 (where the 8-byte refill
// of the bit buffer finds them in each of its lanes) decodes at every scale
// as image/jpeg decodes it, however the decoder is fed (whole slice, moving
// window, reader); and with fill bytes (0xff 0xff ...) added before each
// restart marker and the EOI.
func TestStuffedBytesEveryOffset(t *testing.T) {
	for _, ri := range []int{0, 2} {
		data := stuffedJPEG(t, ri)
		start := sosData(t, data)
		var lanes [8]int
		for i := start; i+1 < len(data); i++ {
			if data[i] == 0xff && data[i+1] == 0x00 {
				lanes[(i-start)%8]++
			}
		}
		for lane, n := range lanes {
			require.Greater(t, n, 5, "stuffed bytes at offset %d mod 8", lane)
		}
		want, err := jpeg.Decode(bytes.NewReader(data))
		require.NoError(t, err)
		got, err := decodeBytes(data, Options{})
		require.NoError(t, err)
		require.Empty(t, sameImage(want, got))
		checkDecode(t, data)

		// Fill bytes before the markers that end each entropy-coded
		// segment.
		var filled []byte
		for i := 0; i < len(data); i++ {
			if i >= start && i+1 < len(data) && data[i] == 0xff && (data[i+1] == eoiMarker || rst0Marker <= data[i+1] && data[i+1] <= rst7Marker) {
				filled = append(filled, 0xff, 0xff)
			}
			filled = append(filled, data[i])
		}
		require.Greater(t, len(filled), len(data))
		want2, err := jpeg.Decode(bytes.NewReader(filled))
		require.NoError(t, err)
		require.Empty(t, sameImage(want, want2))
		checkDecode(t, filled)
	}
}

// TestWindowsEveryOffset decodes small samples from the slice with the end
// of the visible input moving by 1 to 16 bytes at a time, so that it falls
// at every offset of their entropy-coded data, stuffed bytes and markers:
// the same result as the whole slice every time.
func TestWindowsEveryOffset(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	picks := 0
	for _, s := range allSamples(t) {
		if len(s.data) > 3000 {
			continue
		}
		picks++
		for _, opt := range []Options{{Scale: 1}, {Scale: 8, SkipAC: true}} {
			want, werr := decodeBytes(s.data, opt)
			for window := 1; window <= 16; window++ {
				got, err := decodeBytesWindow(ctx, s.data, opt, window)
				if !sameResult(want, werr, got, err) {
					t.Fatalf("%s %+v: %v; with a window of %d bytes: %v", s.name, opt, werr, window, err)
				}
			}
		}
	}
	require.Greater(t, picks, 50)
}

// countingCtx is a context whose Err fails from its (after+1)-th call on.
type countingCtx struct {
	context.Context
	after int64
	calls atomic.Int64
}

var errStop = errors.New("stop")

func (c *countingCtx) Err() error {
	if c.calls.Add(1) > c.after {
		return errStop
	}
	return nil
}

// TestDecodeBytesChecksContext checks that DecodeBytes checks its context
// every 16 KiB of input, and stops at the first check that fails, with its
// error.
func TestDecodeBytesChecksContext(t *testing.T) {
	data := stdEncode(t, naturalImage(1000, 800, 1), 90)
	require.Greater(t, len(data), 6*bytesWindow)
	full := &countingCtx{Context: t.Context(), after: 1 << 62}
	_, err := DecodeBytes(full, data, Options{Scale: 4})
	require.NoError(t, err)
	calls := full.calls.Load()
	assert.Equal(t, int64((len(data)+bytesWindow-1)/bytesWindow), calls, "one check per 16 KiB")

	for _, after := range []int64{0, 1, calls / 2, calls - 1} {
		c := &countingCtx{Context: t.Context(), after: after}
		m, err := DecodeBytes(c, data, Options{Scale: 4})
		require.ErrorIs(t, err, errStop, "after %d checks", after)
		assert.Nil(t, m)
		assert.Equal(t, after+1, c.calls.Load(), "checks after the context was done")
	}
	// A context that cannot be done is not checked.
	_, err = DecodeBytes(context.Background(), data, Options{})
	require.NoError(t, err)
}
