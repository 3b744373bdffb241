package fastimagecache

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/jpegdec"
)

func TestDeclaredFormat(t *testing.T) {
	for _, tc := range []struct {
		ct        string
		f         Format
		claim, ok bool
	}{
		{"image/png", PNG, true, true},
		{"IMAGE/PNG; charset=binary", PNG, true, true},
		{"image/jpg", JPEG, true, true},
		{"image/pjpeg", JPEG, true, true},
		{"image/svg+xml", "", true, false},
		{"text/html", "", true, false},
		{"application/x-php", "", true, false},
		{"not a media type;;", "", true, false},
		{"", "", false, false},
		{"application/octet-stream", "", false, false},
	} {
		f, claim, ok := declaredFormat(tc.ct)
		assert.Equal(t, tc.f, f, tc.ct)
		assert.Equal(t, tc.claim, claim, tc.ct)
		assert.Equal(t, tc.ok, ok, tc.ct)
	}
}

func TestSniffUsesBytesOnly(t *testing.T) {
	for _, tc := range []struct {
		in []byte
		f  Format
		ok bool
	}{
		{fixture.PNG(2, 2), PNG, true},
		{fixture.JPEG(2, 2, 90), JPEG, true},
		{fixture.GIF(2, 2, 1), GIF, true},
		{fixture.BMP(2, 2), BMP, true},
		{fixture.TIFF(2, 2), TIFF, true},
		{fixture.HTML(), "", false},
		{fixture.PHP(), "", false},
		{fixture.SVG("http://169.254.169.254/"), "", false},
		{fixture.AppendZIP(nil, "a.txt", "hello"), "", false},
	} {
		f, ok := sniff(tc.in)
		assert.Equal(t, tc.f, f)
		assert.Equal(t, tc.ok, ok)
	}
}

// jpegFrame returns a JPEG of markers alone: an Adobe APP14 segment with the given
// transform (none when adobe < 0), a SOF0 or SOF2 frame header, one SOS over every
// component (a DC first scan when progressive) with no entropy-coded data, and EOI.
// inspect reads no entropy-coded data, so this is all it needs.
func jpegFrame(progressive bool, w, h, adobe int, comps ...jpegdec.Component) []byte {
	b := []byte{0xff, 0xd8}
	if adobe >= 0 {
		b = append(b, 0xff, 0xee, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, byte(adobe))
	}
	sof, se := byte(0xc0), byte(63)
	if progressive {
		sof, se = 0xc2, 0
	}
	b = append(b, 0xff, sof, 0, byte(8+3*len(comps)), 8, byte(h>>8), byte(h), byte(w>>8), byte(w), byte(len(comps)))
	for _, c := range comps {
		b = append(b, byte(c.ID), byte(c.H<<4|c.V), 0)
	}
	b = append(b, 0xff, 0xda, 0, byte(6+2*len(comps)), byte(len(comps)))
	for _, c := range comps {
		b = append(b, byte(c.ID), 0)
	}
	return append(b, 0, se, 0, 0xff, 0xd9)
}

var ycck22 = []jpegdec.Component{{ID: 1, H: 2, V: 2}, {ID: 2, H: 1, V: 1}, {ID: 3, H: 1, V: 1}, {ID: 4, H: 2, V: 2}}

// TestInspectJPEGReservation checks where a JPEG's budget reservation comes from: inspect
// keeps the frame header jpegdec.DecodeHeader reads (the header of the decoder that runs),
// and every reservation, Put's and a render's alike, is jpegdec.AllocBytes of it at the
// decode's scale, with Workers 2 (the ring of a baseline decode's second goroutine). That AllocBytes covers what jpegdec.Decode allocates is checked in
// internal/jpegdec (TestAllocBytes, FuzzDecode).
func TestInspectJPEGReservation(t *testing.T) {
	rgb := []jpegdec.Component{{ID: 1, H: 1, V: 1}, {ID: 2, H: 1, V: 1}, {ID: 3, H: 1, V: 1}}
	tests := []struct {
		name string
		data []byte
	}{
		{"baseline 4:2:0 (encoder)", fixture.JPEG(33, 17, 80)},
		{"with EXIF orientation", fixture.WithEXIFOrientation(fixture.JPEGQuadrants(16, 8), 6)},
		{"progressive gray", fixture.JPEGScanFlood(40, 24, 3)},
		{"gray sampled 2x2", jpegFrame(false, 1023, 769, -1, jpegdec.Component{ID: 1, H: 2, V: 2})},
		{"RGB by Adobe transform 0", jpegFrame(false, 9, 9, 0, rgb...)},
		{"RGB by component IDs", jpegFrame(false, 9, 9, -1, jpegdec.Component{ID: 'R', H: 1, V: 1}, jpegdec.Component{ID: 'G', H: 1, V: 1}, jpegdec.Component{ID: 'B', H: 1, V: 1})},
		{"CMYK", jpegFrame(false, 17, 9, 0, append(rgb, jpegdec.Component{ID: 4, H: 1, V: 1})...)},
		{"progressive YCCK 2x2", jpegFrame(true, 1000, 700, 2, ycck22...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := inspect(tc.data, putConfig{}, DefaultLimits())
			require.NoError(t, err)
			want, err := jpegdec.DecodeHeader(bytes.NewReader(tc.data))
			require.NoError(t, err)
			require.NotNil(t, h.jpeg)
			got := *h.jpeg
			if len(got.Components) == 1 {
				// jpegscan reports a single component's sampling factors as written;
				// DecodeHeader, like image/jpeg, reads them as 1x1 (AllocBytes does too).
				got.Components = []jpegdec.Component{{ID: got.Components[0].ID, H: 1, V: 1}}
			}
			assert.Equal(t, want, got, "inspect and the decoder read different frame headers")
			for _, c := range []struct {
				o   decodeOpts
				opt jpegdec.Options
			}{
				{decodeOpts{}, jpegdec.Options{Scale: 1}},
				{decodeOpts{jpegScale: 2}, jpegdec.Options{Scale: 2}},
				{decodeOpts{jpegScale: 4}, jpegdec.Options{Scale: 4}},
				{decodeOpts{jpegScale: 8, skipAC: true}, jpegdec.Options{Scale: 8, SkipAC: true}},
				{proveOpts, jpegdec.Options{Scale: 8}},
			} {
				// With the ring of a pipelined decode, which the render slot may grant.
				opt := c.opt
				opt.Workers = 2
				est := jpegdec.AllocBytes(want, opt)
				assert.Positive(t, est)
				assert.Equal(t, est, h.decodeBytesFor(c.o), "%+v", c.o)
			}
			n := len(tc.data)
			assert.Equal(t, jpegdec.AllocBytes(want, jpegdec.Options{Scale: 8})+int64(n)+decodeOverhead, putBytes(h, n))
		})
	}
}

// TestPutRefusesJPEGOverBudget: a 60-byte JPEG header claiming 65535x65535 progressive
// YCCK, within the size limits, needs more than the whole budget even for Put's 1/8-scale
// proving decode. Put refuses it from the header alone, reserving what jpegdec.AllocBytes
// says that decode allocates.
func TestPutRefusesJPEGOverBudget(t *testing.T) {
	data := jpegFrame(true, 65535, 65535, 2, ycck22...)
	hdr, err := jpegdec.DecodeHeader(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Greater(t, jpegdec.AllocBytes(hdr, jpegdec.Options{}), int64(30<<30), "a full-scale decode needs tens of GB")

	c := newTestCache(t, WithLimits(Limits{MaxWidth: 65535, MaxHeight: 65535, MaxPixels: 1 << 33}))
	forbidDecode(t, c)
	_, err = c.Put(t.Context(), bytes.NewReader(data))
	require.ErrorIs(t, err, ErrDimensions)
	var le *LimitError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, "decode memory", le.What, "refused by the budget, not by a size limit")
	assert.Equal(t, DefaultLimits().MemoryBudget, le.Limit)
	// The input is counted as readLimited's buffer: its length and one byte.
	assert.Equal(t, jpegdec.AllocBytes(hdr, jpegdec.Options{Scale: 8})+int64(len(data)+1)+decodeOverhead, le.Value)
}
