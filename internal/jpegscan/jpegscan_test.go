package jpegscan

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

const testMaxScans = 100

func TestScanEncoderOutput(t *testing.T) {
	ycbcr := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420)
	for i := range ycbcr.Y {
		ycbcr.Y[i] = uint8(i)
	}
	// image/jpeg's encoder writes component IDs 1, 2, 3, gray as 1x1 and
	// colour as 4:2:0 (Y 2x2, Cb/Cr 1x1), luma with table 0, chroma table 1.
	want420 := []Component{{ID: 1, H: 2, V: 2, Tq: 0}, {ID: 2, H: 1, V: 1, Tq: 1}, {ID: 3, H: 1, V: 1, Tq: 1}}
	tests := []struct {
		name  string
		img   image.Image
		comps []Component
	}{
		{"gray 1024x768", grayImage(1024, 768), []Component{{ID: 1, H: 1, V: 1}}},
		{"RGBA 1024x768 (4:2:0)", pattern(1024, 768), want420},
		{"YCbCr 640x480 (4:2:0)", ycbcr, want420},
		{"odd RGBA 33x17", pattern(33, 17), want420},
		{"1x1 gray", grayImage(1, 1), []Component{{ID: 1, H: 1, V: 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := encode(t, tc.img)
			info, err := Scan(data, testMaxScans)
			require.NoError(t, err)
			b := tc.img.Bounds()
			assert.Equal(t, b.Dx(), info.Width)
			assert.Equal(t, b.Dy(), info.Height)
			assert.Equal(t, tc.comps, info.Components)
			assert.Equal(t, 1, info.Scans)
			assert.False(t, info.Progressive)
			assert.Equal(t, -1, info.AdobeTransform)
			assert.Equal(t, 1, info.Orientation)
		})
	}
}

func TestScanOrientation(t *testing.T) {
	base := encode(t, pattern(40, 24))
	exif := func(v uint16) []byte { return newJPEG().exifOrientation(v).bytes()[2:] }
	jfif := newJPEG().seg(app0Marker, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0).bytes()[2:]
	xmp := newJPEG().seg(app1Marker, []byte("http://ns.adobe.com/xap/1.0/\x00<x/>")...).bytes()[2:]

	for v := uint16(1); v <= 8; v++ {
		info, err := Scan(withSegment(base, exif(v)), testMaxScans)
		require.NoError(t, err)
		assert.Equal(t, int(v), info.Orientation)
	}
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"value 0", withSegment(base, exif(0)), 1},
		{"value 9", withSegment(base, exif(9)), 1},
		{"after JFIF", withSegment(base, append(append([]byte{}, jfif...), exif(6)...)), 6},
		{"XMP APP1 first", withSegment(base, append(append([]byte{}, xmp...), exif(3)...)), 3},
		{"first Exif wins", withSegment(base, append(exif(5), exif(7)...)), 5},
		{"first Exif invalid", withSegment(base, append(exif(0), exif(7)...)), 1},
		{"none", base, 1},
		{
			"Exif after the first scan is ignored",
			newJPEG().sof(sof0Marker, 8, 8, gray...).sos([]int{1}, 0, 63, 0, 0).exifOrientation(6).eoi(),
			1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Scan(tc.data, testMaxScans)
			require.NoError(t, err)
			assert.Equal(t, tc.want, info.Orientation)
		})
	}
}

// TestScanHandBuilt covers the rules one segment at a time. Most inputs have
// no tables or entropy data: Scan checks structure, not pixels.
func TestScanHandBuilt(t *testing.T) {
	g := gray
	sos1 := func(j *builder) *builder { return j.sos([]int{1}, 0, 63, 0, 0) }
	ok := func(j *builder) []byte { return sos1(j).eoi() }
	sofWith := func(payload ...byte) []byte { return ok(newJPEG().seg(sof0Marker, payload...)) }

	tests := []struct {
		name  string
		data  []byte
		err   error // nil: success
		check func(t *testing.T, info Info)
	}{
		// Success, and what is reported.
		{name: "minimal baseline", data: ok(newJPEG().sof(sof0Marker, 8, 8, g...))},
		{name: "SOF1 extended", data: ok(newJPEG().sof(sof1Marker, 8, 8, g...))},
		{
			name: "SOF2 progressive", data: newJPEG().sof(sof2Marker, 16, 8, yuv420...).
				sos([]int{1, 2, 3}, 0, 0, 0, 1).sos([]int{1}, 1, 5, 0, 2).sos([]int{1}, 1, 5, 2, 1).eoi(),
			check: func(t *testing.T, info Info) {
				assert.True(t, info.Progressive)
				assert.Equal(t, 3, info.Scans)
			},
		},
		{
			name: "65500x65500 header only", data: ok(newJPEG().sof(sof0Marker, 65500, 65500, g...)),
			check: func(t *testing.T, info Info) {
				assert.Equal(t, 65500, info.Width)
				assert.Equal(t, 65500, info.Height)
			},
		},
		{
			name: "65535x65535 CMYK progressive header only",
			data: newJPEG().adobe(2).sof(sof2Marker, 65535, 65535, ycck22...).sos([]int{1, 2, 3, 4}, 0, 0, 0, 0).eoi(),
			check: func(t *testing.T, info Info) {
				// What a caller sizes the decode from (about 70 GB here).
				assert.Equal(t, 65535, info.Width)
				assert.Equal(t, 65535, info.Height)
				assert.True(t, info.Progressive)
				assert.Equal(t, ycck22, info.Components)
				assert.Equal(t, 2, info.AdobeTransform)
			},
		},
		{
			name: "CMYK with Adobe transform 0", data: ok(newJPEG().adobe(0).sof(sof0Marker, 8, 8, cmyk...)),
			check: func(t *testing.T, info Info) { assert.Equal(t, 0, info.AdobeTransform) },
		},
		{
			name: "later Adobe segment wins, as in image/jpeg", data: ok(newJPEG().adobe(0).adobe(1).sof(sof0Marker, 8, 8, yuv444...)),
			check: func(t *testing.T, info Info) { assert.Equal(t, 1, info.AdobeTransform) },
		},
		{
			name: "short Adobe segment ignored", data: ok(newJPEG().seg(app14Marker, 'A', 'd', 'o', 'b', 'e', 0, 100).sof(sof0Marker, 8, 8, g...)),
			check: func(t *testing.T, info Info) { assert.Equal(t, -1, info.AdobeTransform) },
		},
		{name: "DRI", data: ok(newJPEG().seg(driMarker, 0, 4).sof(sof0Marker, 8, 8, g...))},
		{name: "COM and APP15", data: ok(newJPEG().seg(comMarker, 'h', 'i').seg(app15Marker).sof(sof0Marker, 8, 8, g...))},
		{name: "fill bytes before markers", data: ok(newJPEG().raw(0xFF, 0xFF).sof(sof0Marker, 8, 8, g...).raw(0xFF))},
		{name: "extraneous bytes between segments (image/jpeg skips them)", data: ok(newJPEG().raw(0x00, 0x12, 0xFF, 0x00).sof(sof0Marker, 8, 8, g...))},
		{name: "stray RST between segments", data: ok(newJPEG().raw(0xFF, rst0Marker+3).sof(sof0Marker, 8, 8, g...))},
		{
			name: "entropy data with stuffed 0xFF, RST markers and fill bytes",
			data: sos1(newJPEG().sof(sof0Marker, 8, 8, g...)).
				raw(0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xFF, 0xD7, 0xFF, 0xFF, 0x00, 0x78, 0xFF).
				raw(0xFF, 0xFF).eoi(),
			check: func(t *testing.T, info Info) { assert.Equal(t, 1, info.Scans) },
		},
		{
			name:  "marker after entropy data is parsed",
			data:  sos1(sos1(newJPEG().sof(sof1Marker, 8, 8, g...)).raw(0xAB, 0xFF, 0x00).seg(dhtMarker).raw(0x01)).raw(0xFF, 0xFF).eoi(),
			check: func(t *testing.T, info Info) { assert.Equal(t, 2, info.Scans) },
		},
		{name: "data after EOI ignored", data: append(ok(newJPEG().sof(sof0Marker, 8, 8, g...)), 0xFF, 0xC3, 0xFF)},

		// Framing.
		{name: "empty", data: nil, err: ErrMalformed},
		{name: "no SOI", data: ok(newJPEG().sof(sof0Marker, 8, 8, g...))[2:], err: ErrMalformed},
		{name: "SOI only", data: newJPEG().bytes(), err: ErrMalformed},
		{name: "SOI EOI", data: newJPEG().eoi(), err: ErrMalformed},
		{name: "no SOF", data: ok(newJPEG()), err: ErrMalformed},
		{name: "SOF but no SOS", data: newJPEG().sof(sof0Marker, 8, 8, g...).eoi(), err: ErrMalformed},
		{name: "missing EOI after scan (image/jpeg: unexpected EOF)", data: sos1(newJPEG().sof(sof0Marker, 8, 8, g...)).raw(1, 2, 3).bytes(), err: ErrMalformed},
		{name: "ends in fill bytes", data: sos1(newJPEG().sof(sof0Marker, 8, 8, g...)).raw(0xFF, 0xFF).bytes(), err: ErrMalformed},
		{name: "segment length past EOF", data: newJPEG().raw(0xFF, comMarker, 0x10, 0x00, 'x').bytes(), err: ErrMalformed},
		{name: "segment length past EOF by one", data: newJPEG().raw(0xFF, comMarker, 0x00, 0x05, 'a', 'b').bytes(), err: ErrMalformed},
		{name: "segment length 1", data: ok(newJPEG().raw(0xFF, comMarker, 0x00, 0x01).sof(sof0Marker, 8, 8, g...)), err: ErrMalformed},
		{name: "segment length 0", data: ok(newJPEG().raw(0xFF, app0Marker, 0x00, 0x00).sof(sof0Marker, 8, 8, g...)), err: ErrMalformed},
		{name: "truncated length", data: newJPEG().raw(0xFF, dqtMarker, 0x00).bytes(), err: ErrMalformed},
		{name: "reserved marker", data: ok(newJPEG().seg(0x02).sof(sof0Marker, 8, 8, g...)), err: ErrMalformed},

		// SOF.
		{name: "SOF3 lossless", data: ok(newJPEG().sof(0xC3, 8, 8, g...)), err: ErrUnsupported},
		{name: "SOF5 hierarchical", data: ok(newJPEG().sof(0xC5, 8, 8, g...)), err: ErrUnsupported},
		{name: "SOF9 arithmetic", data: ok(newJPEG().sof(0xC9, 8, 8, g...)), err: ErrUnsupported},
		{name: "SOF10 progressive arithmetic", data: ok(newJPEG().sof(0xCA, 8, 8, g...)), err: ErrUnsupported},
		{name: "SOF15", data: ok(newJPEG().sof(0xCF, 8, 8, g...)), err: ErrUnsupported},
		{name: "DAC", data: ok(newJPEG().seg(0xCC, 0, 0).sof(sof0Marker, 8, 8, g...)), err: ErrUnsupported},
		{name: "DNL", data: sos1(newJPEG().sof(sof0Marker, 8, 8, g...)).seg(0xDC, 0, 8).eoi(), err: ErrUnsupported},
		{name: "precision 12", data: sofWith(12, 0, 8, 0, 8, 1, 1, 0x11, 0), err: ErrUnsupported},
		{name: "precision 16", data: sofWith(16, 0, 8, 0, 8, 1, 1, 0x11, 0), err: ErrUnsupported},
		{name: "height 0 (DNL)", data: ok(newJPEG().sof(sof0Marker, 8, 0, g...)), err: ErrUnsupported},
		{name: "width 0", data: ok(newJPEG().sof(sof0Marker, 0, 8, g...)), err: ErrMalformed},
		{name: "2 components", data: sofWith(8, 0, 8, 0, 8, 2, 1, 0x11, 0, 2, 0x11, 0), err: ErrUnsupported},
		{name: "0 components", data: sofWith(8, 0, 8, 0, 8, 0), err: ErrUnsupported},
		{name: "5 components", data: sofWith(8, 0, 8, 0, 8, 5), err: ErrUnsupported},
		{name: "SOF longer than components", data: sofWith(8, 0, 8, 0, 8, 1, 1, 0x11, 0, 0), err: ErrMalformed},
		{name: "SOF shorter than components", data: sofWith(8, 0, 8, 0, 8, 3, 1, 0x11, 0), err: ErrMalformed},
		{name: "SOF too short for header", data: sofWith(8, 0, 8, 0), err: ErrMalformed},
		{name: "SOF empty", data: sofWith(), err: ErrMalformed},
		{name: "sampling 0", data: ok(newJPEG().sof(sof0Marker, 8, 8, Component{ID: 1, H: 0, V: 1})), err: ErrMalformed},
		{name: "sampling 5", data: ok(newJPEG().sof(sof0Marker, 8, 8, Component{ID: 1, H: 1, V: 5})), err: ErrMalformed},
		{name: "sampling 3 (image/jpeg: unsupported)", data: ok(newJPEG().sof(sof0Marker, 8, 8, Component{ID: 1, H: 3, V: 1})), err: ErrUnsupported},
		{
			name: "chroma sampled more than luma",
			data: ok(newJPEG().sof(sof0Marker, 8, 8, Component{ID: 1, H: 1, V: 1}, Component{ID: 2, H: 2, V: 2}, Component{ID: 3, H: 2, V: 2})),
			err:  ErrUnsupported,
		},
		{
			name: "Cb and Cr differ",
			data: ok(newJPEG().sof(sof0Marker, 8, 8, Component{ID: 1, H: 2, V: 2}, Component{ID: 2, H: 1, V: 1}, Component{ID: 3, H: 2, V: 1})),
			err:  ErrUnsupported,
		},
		{
			name: "CMYK 21 11 11 21",
			data: ok(newJPEG().adobe(0).sof(sof0Marker, 8, 8, Component{ID: 1, H: 2, V: 1}, Component{ID: 2, H: 1, V: 1}, Component{ID: 3, H: 1, V: 1}, Component{ID: 4, H: 2, V: 1})),
			err:  ErrUnsupported,
		},
		{name: "CMYK without Adobe APP14", data: ok(newJPEG().sof(sof0Marker, 8, 8, cmyk...)), err: ErrUnsupported},
		{
			name: "repeated component ID",
			data: ok(newJPEG().sof(sof0Marker, 8, 8, Component{ID: 1, H: 1, V: 1}, Component{ID: 2, H: 1, V: 1}, Component{ID: 1, H: 1, V: 1})),
			err:  ErrMalformed,
		},
		{name: "Tq 4", data: ok(newJPEG().sof(sof0Marker, 8, 8, Component{ID: 1, H: 1, V: 1, Tq: 4})), err: ErrMalformed},
		{name: "second SOF", data: ok(newJPEG().sof(sof0Marker, 8, 8, g...).sof(sof0Marker, 8, 8, g...)), err: ErrMalformed},
		{name: "second SOF after SOS", data: sos1(newJPEG().sof(sof0Marker, 8, 8, g...)).sof(sof2Marker, 8, 8, g...).eoi(), err: ErrMalformed},
		{name: "SOS before SOF", data: sos1(newJPEG()).sof(sof0Marker, 8, 8, g...).eoi(), err: ErrMalformed},

		// SOS.
		{name: "SOS 0 components", data: newJPEG().sof(sof0Marker, 8, 8, g...).seg(sosMarker, 0, 0, 63, 0).eoi(), err: ErrMalformed},
		{name: "SOS 5 components", data: newJPEG().sof(sof0Marker, 8, 8, g...).sos([]int{1, 2, 3, 4, 5}, 0, 63, 0, 0).eoi(), err: ErrMalformed},
		{name: "SOS more components than frame", data: newJPEG().sof(sof0Marker, 8, 8, g...).sos([]int{1, 2}, 0, 63, 0, 0).eoi(), err: ErrMalformed},
		{name: "SOS too long", data: newJPEG().sof(sof0Marker, 8, 8, g...).seg(sosMarker, 1, 1, 0, 0, 63, 0, 0).eoi(), err: ErrMalformed},
		{name: "SOS too short", data: newJPEG().sof(sof0Marker, 8, 8, g...).seg(sosMarker, 1, 1, 0, 0, 63).eoi(), err: ErrMalformed},
		{name: "SOS empty", data: newJPEG().sof(sof0Marker, 8, 8, g...).seg(sosMarker).eoi(), err: ErrMalformed},
		{name: "SOS unknown component", data: newJPEG().sof(sof0Marker, 8, 8, g...).sos([]int{9}, 0, 63, 0, 0).eoi(), err: ErrMalformed},
		{name: "SOS repeated component", data: newJPEG().sof(sof0Marker, 8, 8, yuv444...).sos([]int{1, 1}, 0, 63, 0, 0).eoi(), err: ErrMalformed},
		{name: "baseline table 2", data: newJPEG().sof(sof0Marker, 8, 8, g...).seg(sosMarker, 1, 1, 0x20, 0, 63, 0).eoi(), err: ErrMalformed},
		{name: "extended table 3", data: newJPEG().sof(sof1Marker, 8, 8, g...).seg(sosMarker, 1, 1, 0x33, 0, 63, 0).eoi()},
		{name: "progressive DC with AC band", data: newJPEG().sof(sof2Marker, 8, 8, g...).sos([]int{1}, 0, 5, 0, 0).eoi(), err: ErrMalformed},
		{name: "progressive Se 64", data: newJPEG().sof(sof2Marker, 8, 8, g...).sos([]int{1}, 1, 64, 0, 0).eoi(), err: ErrMalformed},
		{name: "progressive interleaved AC", data: newJPEG().sof(sof2Marker, 8, 8, yuv444...).sos([]int{1, 2}, 1, 63, 0, 0).eoi(), err: ErrMalformed},
		{name: "progressive bad Ah", data: newJPEG().sof(sof2Marker, 8, 8, g...).sos([]int{1}, 1, 63, 3, 1).eoi(), err: ErrMalformed},
		{
			name: "sampling sum over 10",
			data: newJPEG().sof(sof0Marker, 8, 8, Component{ID: 1, H: 4, V: 2}, Component{ID: 2, H: 2, V: 2}, Component{ID: 3, H: 2, V: 2}).sos([]int{1, 2, 3}, 0, 63, 0, 0).eoi(),
			err:  ErrMalformed,
		},
		{name: "DRI wrong length", data: ok(newJPEG().seg(driMarker, 0, 4, 0).sof(sof0Marker, 8, 8, g...)), err: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Scan(tc.data, testMaxScans)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.True(t, isSentinel(err))
				return
			}
			require.NoError(t, err)
			assert.Positive(t, info.Width)
			assert.Positive(t, info.Height)
			assert.Contains(t, []int{1, 3, 4}, len(info.Components))
			if tc.check != nil {
				tc.check(t, info)
			}
		})
	}
}

// On error, Info carries what was parsed: useful in logs.
func TestScanPartialInfoOnError(t *testing.T) {
	info, err := Scan(newJPEG().sof(sof0Marker, 65500, 65500, gray...).bytes(), testMaxScans)
	require.ErrorIs(t, err, ErrMalformed)
	assert.Equal(t, 65500, info.Width)
	assert.Equal(t, 65500, info.Height)
	assert.Zero(t, info.Scans)
}

// isSentinel reports whether err wraps exactly one of the sentinels.
func isSentinel(err error) bool {
	n := 0
	for _, s := range []error{ErrMalformed, ErrUnsupported, ErrTooManyScans} {
		if errors.Is(err, s) {
			n++
		}
	}
	return n == 1
}

func TestScanMaxScans(t *testing.T) {
	// A progressive 64x64 gray image: one DC scan, then 499 identical AC
	// scans. image/jpeg decodes it, making 500 passes over the blocks: the
	// CPU-bomb shape, scaled down.
	data := flat{w: 64, h: 64, comps: gray, progressive: true, adobe: -1, acScans: 499}.build()
	const total = 500
	_, err := jpeg.Decode(bytes.NewReader(data))
	require.NoError(t, err, "image/jpeg must accept the test file")

	info, err := Scan(data, total)
	require.NoError(t, err)
	assert.Equal(t, total, info.Scans)

	info, err = Scan(data, total-1)
	require.ErrorIs(t, err, ErrTooManyScans)
	assert.Equal(t, total, info.Scans, "stops at the first scan over the limit")

	_, err = Scan(data, 0)
	require.ErrorIs(t, err, ErrTooManyScans)
	_, err = Scan(data, -1)
	require.ErrorIs(t, err, ErrTooManyScans)

	// Same with bare SOS headers and no entropy data at all.
	j := newJPEG().sof(sof2Marker, 8, 8, gray...)
	for range 3000 {
		j.sos([]int{1}, 0, 0, 0, 0)
	}
	bomb := j.eoi()
	_, err = Scan(bomb, 3000)
	require.NoError(t, err)
	_, err = Scan(bomb, 2999)
	require.ErrorIs(t, err, ErrTooManyScans)
}

// Every prefix of a small real JPEG: no panic, an error that wraps a sentinel,
// and the same verdict as image/jpeg.
func TestScanTruncated(t *testing.T) {
	full := withSegment(encode(t, pattern(24, 16)), newJPEG().exifOrientation(6).bytes()[2:])
	info, err := Scan(full, testMaxScans)
	require.NoError(t, err)
	require.Equal(t, 6, info.Orientation)

	for _, data := range [][]byte{
		full,
		flat{w: 24, h: 16, comps: yuv420, progressive: true, adobe: -1}.build(),
		flat{w: 17, h: 9, comps: ycck22, adobe: 1}.build(),
	} {
		for n := 0; n <= len(data); n++ {
			prefix := data[:n:n] // no spare capacity, so reads past n fault
			var err error
			require.NotPanics(t, func() { _, err = Scan(prefix, testMaxScans) }, "prefix %d", n)
			_, goErr := jpeg.Decode(bytes.NewReader(prefix))
			if n == len(data) {
				require.NoError(t, err)
				require.NoError(t, goErr)
				continue
			}
			require.Error(t, err, "prefix %d of %d", n, len(data))
			require.True(t, isSentinel(err), "prefix %d: %v", n, err)
			require.Error(t, goErr, "prefix %d: image/jpeg accepted what Scan rejected", n)
		}
	}
}

// TestScanMatchesDecoder checks Scan against image/jpeg on every sampling
// layout and colour transform it decodes: the same size, and the frame
// header a caller sizes the decode from. (What the decode allocates is
// jpegdec.AllocBytes's business, checked against jpegdec.Decode there.)
func TestScanMatchesDecoder(t *testing.T) {
	tests := []struct {
		name  string
		data  []byte
		comps []Component
		want  string // %T of the decoded image
	}{
		{"baseline 4:2:0 1024x768 (encoder)", encode(t, pattern(1024, 768)), nil, "*image.YCbCr"},
		{"gray 1024x768 (encoder)", encode(t, grayImage(1024, 768)), nil, "*image.Gray"},
		{"baseline 4:4:4 1024x768", flat{w: 1024, h: 768, comps: yuv444, adobe: -1}.build(), yuv444, "*image.YCbCr"},
		{"baseline 4:2:2 1001x767", flat{w: 1001, h: 767, comps: yuv422, adobe: -1}.build(), yuv422, "*image.YCbCr"},
		{"baseline 4:1:1 1001x767", flat{w: 1001, h: 767, comps: yuv411, adobe: -1}.build(), yuv411, "*image.YCbCr"},
		{"progressive 4:2:0 1024x768", flat{w: 1024, h: 768, comps: yuv420, progressive: true, adobe: -1}.build(), yuv420, "*image.YCbCr"},
		{"progressive gray 1023x769", flat{w: 1023, h: 769, comps: gray, progressive: true, adobe: -1}.build(), gray, "*image.Gray"},
		{"gray sampled 2x2 1023x769", flat{w: 1023, h: 769, comps: []Component{{ID: 1, H: 2, V: 2}}, adobe: -1}.build(), []Component{{ID: 1, H: 2, V: 2}}, "*image.Gray"},
		{"RGB (Adobe transform 0) 1024x768", flat{w: 1024, h: 768, comps: yuv444, adobe: 0}.build(), yuv444, "*image.RGBA"},
		{"CMYK 1024x768", flat{w: 1024, h: 768, comps: cmyk, adobe: 0}.build(), cmyk, "*image.CMYK"},
		{"YCCK 2x2 1024x768", flat{w: 1024, h: 768, comps: ycck22, adobe: 2}.build(), ycck22, "*image.CMYK"},
		{"progressive YCCK 2x2 1000x700", flat{w: 1000, h: 700, comps: ycck22, adobe: 2, progressive: true}.build(), ycck22, "*image.CMYK"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Scan(tc.data, testMaxScans)
			require.NoError(t, err)
			img, err := jpeg.Decode(bytes.NewReader(tc.data))
			require.NoError(t, err)
			assert.Equal(t, tc.want, typeName(img))
			assert.Equal(t, image.Rect(0, 0, info.Width, info.Height), img.Bounds())
			if tc.comps != nil {
				assert.Equal(t, tc.comps, info.Components)
			}
		})
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *image.YCbCr:
		return "*image.YCbCr"
	case *image.Gray:
		return "*image.Gray"
	case *image.RGBA:
		return "*image.RGBA"
	case *image.CMYK:
		return "*image.CMYK"
	}
	return "other"
}

func TestScanAllocations(t *testing.T) {
	real := encode(t, pattern(256, 256))
	huge := newJPEG().adobe(0).sof(sof2Marker, 65535, 65535, cmyk...).sos([]int{1, 2, 3, 4}, 0, 0, 0, 0).eoi()
	for name, data := range map[string][]byte{"real": real, "huge header": huge} {
		allocs := testing.AllocsPerRun(50, func() {
			_, err := Scan(data, testMaxScans)
			if err != nil {
				panic(err)
			}
		})
		assert.LessOrEqual(t, allocs, 1.0, "%s: only the Components slice may be allocated", name)
	}
}

func TestMaliciousHeadersDoNotAllocate(t *testing.T) {
	// A 40-byte file claiming 65535x65535 CMYK: Scan must report the header
	// a caller sizes the ~34 GB decode from, without allocating any of it.
	data := newJPEG().adobe(0).sof(sof0Marker, 65535, 65535, cmyk...).sos([]int{1, 2, 3, 4}, 0, 63, 0, 0).eoi()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	info, err := Scan(data, testMaxScans)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	assert.Equal(t, 65535, info.Width)
	assert.Equal(t, 65535, info.Height)
	assert.Equal(t, cmyk, info.Components)
	assert.Equal(t, 0, info.AdobeTransform)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<10))
}

func fuzzSeeds(f *testing.F) {
	f.Add(encode(f, pattern(24, 16)))
	f.Add(encode(f, grayImage(9, 7)))
	f.Add(withSegment(encode(f, pattern(8, 8)), newJPEG().exifOrientation(6).bytes()[2:]))
	f.Add(flat{w: 24, h: 16, comps: yuv420, progressive: true, adobe: -1}.build())
	f.Add(flat{w: 17, h: 9, comps: ycck22, adobe: 2}.build())
	f.Add(flat{w: 9, h: 9, comps: yuv444, adobe: 0}.build())
	f.Add(flat{w: 9, h: 9, comps: yuv411, adobe: -1, progressive: true, acScans: 3}.build())
	f.Add(newJPEG().seg(driMarker, 0, 1).sof(sof0Marker, 8, 8, gray...).sos([]int{1}, 0, 63, 0, 0).raw(0, 0xFF, 0xD0, 0).eoi())
	f.Add(newJPEG().sof(0xC3, 8, 8, gray...).eoi())
}

func FuzzScan(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxScans = 8
		info, err := Scan(data, maxScans)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error %v wraps no sentinel (or several)", err)
			}
			return
		}
		if info.Width <= 0 || info.Height <= 0 {
			t.Fatalf("size %dx%d", info.Width, info.Height)
		}
		if info.Scans < 1 || info.Scans > maxScans {
			t.Fatalf("Scans = %d", info.Scans)
		}
		if info.Orientation < 1 || info.Orientation > 8 {
			t.Fatalf("Orientation = %d", info.Orientation)
		}
		if n := len(info.Components); n != 1 && n != 3 && n != 4 {
			t.Fatalf("%d components", n)
		}
	})
}

// FuzzScanVsDecoder checks Scan against image/jpeg on small images: whatever
// the decoder accepts, Scan must accept with the same size. (The converse
// does not hold: Scan does not decode the entropy-coded data.)
func FuzzScanVsDecoder(f *testing.F) {
	fuzzSeeds(f)
	f.Add(zeroHeight(fixture.JPEG(16, 16, 90))) // regression: image/jpeg decodes it as empty
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width*cfg.Height > 256*256 {
			return
		}
		img, goErr := jpeg.Decode(bytes.NewReader(data))
		info, err := Scan(data, math.MaxInt)
		if goErr != nil {
			return
		}
		if err != nil {
			if img.Bounds().Empty() {
				// Width or height 0: image/jpeg returns an empty image, which nothing can
				// render; Scan deliberately refuses it (height 0 as the DNL marker it means).
				return
			}
			t.Fatalf("image/jpeg decoded %v, Scan: %v", img.Bounds(), err)
		}
		if img.Bounds() != image.Rect(0, 0, info.Width, info.Height) {
			t.Fatalf("image/jpeg decoded %v, Scan says %dx%d", img.Bounds(), info.Width, info.Height)
		}
	})
}

// zeroHeight sets the frame height of a baseline JPEG to 0, which image/jpeg decodes as an
// empty image and JPEG reserves for a height given later by a DNL marker.
func zeroHeight(jpg []byte) []byte {
	out := bytes.Clone(jpg)
	i := bytes.Index(out, []byte{0xff, 0xc0})
	out[i+5], out[i+6] = 0, 0
	return out
}
