package jpegdec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var scales = []int{1, 2, 4, 8}

func decodeBytes(data []byte, opt Options) (image.Image, error) {
	return DecodeBytes(context.Background(), data, opt)
}

// sameImage reports how a and b differ: type, bounds, strides or pixels
// within the bounds; "" if they do not.
func sameImage(a, b image.Image) string {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return fmt.Sprintf("types %T and %T", a, b)
	}
	if a.Bounds() != b.Bounds() {
		return fmt.Sprintf("bounds %v and %v", a.Bounds(), b.Bounds())
	}
	r := a.Bounds()
	type plane struct {
		name   string
		pa, pb []byte
		sa, sb int
		w, h   int
	}
	var planes []plane
	switch a := a.(type) {
	case *image.Gray:
		b := b.(*image.Gray)
		planes = []plane{{"gray", a.Pix, b.Pix, a.Stride, b.Stride, r.Dx(), r.Dy()}}
	case *image.YCbCr:
		b := b.(*image.YCbCr)
		if a.SubsampleRatio != b.SubsampleRatio {
			return fmt.Sprintf("subsample ratios %v and %v", a.SubsampleRatio, b.SubsampleRatio)
		}
		cw, ch := chromaSize(a)
		planes = []plane{{"Y", a.Y, b.Y, a.YStride, b.YStride, r.Dx(), r.Dy()},
			{"Cb", a.Cb, b.Cb, a.CStride, b.CStride, cw, ch},
			{"Cr", a.Cr, b.Cr, a.CStride, b.CStride, cw, ch}}
	case *image.RGBA:
		b := b.(*image.RGBA)
		planes = []plane{{"rgba", a.Pix, b.Pix, a.Stride, b.Stride, 4 * r.Dx(), r.Dy()}}
	case *image.CMYK:
		b := b.(*image.CMYK)
		planes = []plane{{"cmyk", a.Pix, b.Pix, a.Stride, b.Stride, 4 * r.Dx(), r.Dy()}}
	default:
		return fmt.Sprintf("unexpected type %T", a)
	}
	for _, p := range planes {
		for y := 0; y < p.h; y++ {
			ra, rb := p.pa[y*p.sa:y*p.sa+p.w], p.pb[y*p.sb:y*p.sb+p.w]
			if !bytes.Equal(ra, rb) {
				for x := range ra {
					if ra[x] != rb[x] {
						return fmt.Sprintf("%s plane differs at (%d, %d): %d != %d", p.name, x, y, ra[x], rb[x])
					}
				}
			}
		}
	}
	return ""
}

// chromaSize is the size of m's chroma planes within its bounds.
func chromaSize(m *image.YCbCr) (int, int) {
	r := m.Bounds()
	w, h := r.Dx(), r.Dy()
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2
	case image.YCbCrSubsampleRatio440:
		return w, (h + 1) / 2
	case image.YCbCrSubsampleRatio411:
		return (w + 3) / 4, h
	case image.YCbCrSubsampleRatio410:
		return (w + 3) / 4, (h + 1) / 2
	}
	return w, h
}

// TestScale1MatchesStdlib checks that Scale 1 decodes every sample exactly as
// image/jpeg does, and fails where it fails.
func TestScale1MatchesStdlib(t *testing.T) {
	for _, s := range allSamples(t) {
		want, werr := jpeg.Decode(bytes.NewReader(s.data))
		for _, opt := range []Options{{}, {Scale: 1}, {Scale: 1, SkipAC: true}} {
			got, err := decodeBytes(s.data, opt)
			if werr != nil {
				assert.Error(t, err, "%s: image/jpeg fails with %v", s.name, werr)
				continue
			}
			if !assert.NoError(t, err, s.name) {
				continue
			}
			assert.Empty(t, sameImage(want, got), s.name)
		}
	}
}

// TestScaledBounds checks the size, type and subsampling ratio of scaled
// decodes, with and without SkipAC, and that SkipAC only changes anything at
// Scale 8 of a progressive image (and there, nothing but the speed: its DC
// comes from the same scans).
func TestScaledBounds(t *testing.T) {
	for _, s := range allSamples(t) {
		full, err := decodeBytes(s.data, Options{})
		if err != nil {
			continue
		}
		w, h := full.Bounds().Dx(), full.Bounds().Dy()
		for _, scale := range scales[1:] {
			m, err := decodeBytes(s.data, Options{Scale: scale})
			require.NoError(t, err, "%s at 1/%d", s.name, scale)
			want := image.Rect(0, 0, (w+scale-1)/scale, (h+scale-1)/scale)
			assert.Equal(t, want, m.Bounds(), "%s at 1/%d", s.name, scale)
			assert.IsType(t, full, m, "%s at 1/%d", s.name, scale)
			if y, ok := full.(*image.YCbCr); ok {
				assert.Equal(t, y.SubsampleRatio, m.(*image.YCbCr).SubsampleRatio, "%s at 1/%d", s.name, scale)
			}
			skip, err := decodeBytes(s.data, Options{Scale: scale, SkipAC: true})
			require.NoError(t, err, "%s at 1/%d, SkipAC", s.name, scale)
			assert.Empty(t, sameImage(m, skip), "%s at 1/%d: SkipAC changed the output", s.name, scale)
		}
	}
}

func TestBadScale(t *testing.T) {
	data := gorootSamples(t)[0].data
	for _, s := range []int{-1, 3, 5, 16} {
		_, err := decodeBytes(data, Options{Scale: s})
		assert.ErrorIs(t, err, errBadScale, "scale %d", s)
	}
}

func TestDecodeConfigMatchesStdlib(t *testing.T) {
	for _, s := range allSamples(t) {
		want, werr := jpeg.DecodeConfig(bytes.NewReader(s.data))
		got, err := DecodeConfig(bytes.NewReader(s.data))
		if werr != nil {
			assert.Error(t, err, s.name)
			continue
		}
		require.NoError(t, err, s.name)
		assert.Equal(t, want, got, s.name)
	}
}

// TestTruncated decodes every prefix (sampled) of several files at every
// scale: no panic, and an error each time, since a JPEG must end with EOI.
func TestTruncated(t *testing.T) {
	var picks []sample
	for _, s := range allSamples(t) {
		switch s.name {
		case "goroot/video-001.progressive.jpeg", "goroot/video-001.restart2.jpeg",
			"goroot/video-005.gray.q50.2x2.progressive.jpeg", "goroot/video-001.cmyk.jpeg",
			"enc/prog/444/37x29/succ-approx", "enc/prog/gray/80x64/rst2", "enc/base/420/99x41/rst3",
			"std/420/101x67/q90", "enc/prog/422/99x41/spectral":
			picks = append(picks, s)
		}
	}
	require.Len(t, picks, 9)
	for _, s := range picks {
		// The last two bytes are the EOI marker; any shorter prefix fails.
		cuts := 300
		if testing.Short() || raceEnabled {
			cuts = 60
		}
		step := max(1, len(s.data)/cuts)
		for n := 0; n < len(s.data)-1; n += step {
			for _, opt := range []Options{{Scale: 1}, {Scale: 2}, {Scale: 4}, {Scale: 8}, {Scale: 8, SkipAC: true}} {
				_, err := decodeBytes(s.data[:n], opt)
				if !assert.Error(t, err, "%s cut at %d, %+v", s.name, n, opt) {
					continue
				}
				var fe FormatError
				ok := errors.As(err, &fe) || errors.Is(err, io.ErrUnexpectedEOF)
				assert.True(t, ok, "%s cut at %d: %v", s.name, n, err)
			}
		}
	}
}
