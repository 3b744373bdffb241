package jpegdec

import (
	"bytes"
	"image/color"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestAllocBytes checks AllocBytes against what Decode allocates, for every
// sample and option: never less, and more only by the decoder's fixed size
// and small objects.
func TestAllocBytes(t *testing.T) {
	t.Logf("decoder: %d bytes", unsafe.Sizeof(decoder{}))
	for _, s := range allSamples(t) {
		h, err := DecodeHeader(bytes.NewReader(s.data))
		require.NoError(t, err, s.name)
		for _, opt := range []Options{{Scale: 1}, {Scale: 2}, {Scale: 4}, {Scale: 8}, {Scale: 8, SkipAC: true}} {
			var derr error
			got := allocated(func() { _, derr = decodeBytes(s.data, opt) })
			if derr != nil {
				continue
			}
			est := AllocBytes(h, opt)
			assert.LessOrEqual(t, got, uint64(est)+allocSlack, "%s %+v", s.name, opt)
			assert.GreaterOrEqual(t, got, uint64(est), "%s %+v", s.name, opt)
		}
	}
}

// TestAllocBytesProgressiveDC checks the memory a progressive decode keeps
// between scans: 136 bytes per block at Scale 1, 106 at 1/2, 58 at 1/4, 10 at
// 1/8 (the int16 coefficients kept and the set of the non-zero ones), 2 with
// SkipAC (DC alone); at Scale 1 the planes are written into the coefficients'
// memory, and cost only a band of one block row.
func TestAllocBytesProgressiveDC(t *testing.T) {
	e := ycbcrEncoder(naturalImage(512, 384, 5), 2, 2, 1, 1, 85)
	e.progressive = true
	data := e.encode()
	full := allocated(func() { _, _ = decodeBytes(data, Options{Scale: 8}) })
	half := allocated(func() { _, _ = decodeBytes(data, Options{Scale: 2}) })
	quarter := allocated(func() { _, _ = decodeBytes(data, Options{Scale: 4}) })
	dc := allocated(func() { _, _ = decodeBytes(data, Options{Scale: 8, SkipAC: true}) })
	std := allocated(func() { _, _ = decodeBytes(data, Options{}) })
	// 4:2:0 512×384: 3072 Y + 2×768 chroma blocks = 4608 blocks.
	assert.InDelta(t, 4608*(10+1), full, allocSlack+4608, "Scale 8")
	assert.InDelta(t, 4608*(106+16), half, allocSlack, "Scale 2")
	assert.InDelta(t, 4608*(58+4), quarter, allocSlack, "Scale 4")
	assert.InDelta(t, 4608*(2+1), dc, allocSlack, "Scale 8, SkipAC")
	// 32 MCUs a row: a band of 64 Y blocks.
	assert.InDelta(t, 4608*136+64*64, std, allocSlack, "Scale 1")
	// AllocBytes counts exactly those.
	h, err := DecodeHeader(bytes.NewReader(data))
	require.NoError(t, err)
	for _, c := range []struct {
		opt  Options
		want int64
	}{
		{Options{}, 4608*136 + 64*64},
		{Options{Scale: 2}, 4608 * (106 + 16)},
		{Options{Scale: 4}, 4608 * (58 + 4)},
		{Options{Scale: 8}, 4608 * (10 + 1)},
		{Options{Scale: 8, SkipAC: true}, 4608 * (2 + 1)},
	} {
		assert.Equal(t, c.want, AllocBytes(h, c.opt), "%+v", c.opt)
	}
	t.Logf("progressive 512×384 4:2:0: Scale 1 %d bytes, Scale 8 %d, Scale 8 with SkipAC %d", std, full, dc)
}

func TestAllocBytesEdgeCases(t *testing.T) {
	assert.Zero(t, AllocBytes(Header{}, Options{}))
	assert.Zero(t, AllocBytes(Header{Width: 10, Height: 0, Components: []Component{{1, 1, 1}}}, Options{}))
	// Saturates instead of overflowing.
	huge := Header{Width: 1 << 62, Height: 1 << 62, Progressive: true, Components: []Component{{1, 4, 4}, {2, 1, 1}, {3, 1, 1}, {4, 4, 4}}}
	assert.Equal(t, int64(1<<63-1), AllocBytes(huge, Options{}))
	// Sampling factors out of range are clamped; gray is 1×1 whatever its factors.
	g := Header{Width: 16, Height: 16, Components: []Component{{1, 0, 9}}}
	assert.Equal(t, int64(256), AllocBytes(g, Options{}))
	assert.Equal(t, int64(4), AllocBytes(g, Options{Scale: 8}))
	// RGB: planes plus the RGBA copy.
	rgb := Header{Width: 8, Height: 8, AdobeTransform: 0, Components: []Component{{1, 1, 1}, {2, 1, 1}, {3, 1, 1}}}
	assert.Equal(t, int64(3*64+4*64), AllocBytes(rgb, Options{}))
	rgb.AdobeTransform = -1
	assert.Equal(t, int64(3*64), AllocBytes(rgb, Options{}))
	rgb.Components[0].ID, rgb.Components[1].ID, rgb.Components[2].ID = 'R', 'G', 'B'
	assert.Equal(t, int64(3*64+4*64), AllocBytes(rgb, Options{}))
	// An invalid scale counts as 1.
	assert.Equal(t, AllocBytes(g, Options{}), AllocBytes(g, Options{Scale: 3}))
}

func TestDecodeHeader(t *testing.T) {
	for _, s := range gorootSamples(t) {
		// (video-001.progressive.truncated.jpeg is truncated after its
		// first scans: its header is fine.)
		h, err := DecodeHeader(bytes.NewReader(s.data))
		require.NoError(t, err, s.name)
		cfg, err := DecodeConfig(bytes.NewReader(s.data))
		require.NoError(t, err, s.name)
		assert.Equal(t, cfg.Width, h.Width, s.name)
		assert.Equal(t, cfg.Height, h.Height, s.name)
		switch cfg.ColorModel {
		case color.GrayModel:
			assert.Len(t, h.Components, 1, s.name)
		case color.CMYKModel:
			assert.Len(t, h.Components, 4, s.name)
		default:
			assert.Len(t, h.Components, 3, s.name)
		}
	}
	h, err := DecodeHeader(bytes.NewReader(gorootSample(t, "video-001.q50.420.progressive.jpeg")))
	require.NoError(t, err)
	assert.Equal(t, Header{Width: 150, Height: 103, Progressive: true, AdobeTransform: -1,
		Components: []Component{{1, 2, 2}, {2, 1, 1}, {3, 1, 1}}}, h)
	h, err = DecodeHeader(bytes.NewReader(gorootSample(t, "video-001.cmyk.jpeg")))
	require.NoError(t, err)
	assert.Equal(t, 0, h.AdobeTransform) // CMYK, not YCCK
	assert.Len(t, h.Components, 4)
	_, err = DecodeHeader(bytes.NewReader([]byte("\xff\xd8\xff\xd9")))
	assert.Error(t, err)
}

func gorootSample(t testing.TB, name string) []byte {
	for _, s := range gorootSamples(t) {
		if s.name == "goroot/"+name {
			return s.data
		}
	}
	t.Fatalf("no %s", name)
	return nil
}

func TestScaleFor(t *testing.T) {
	ycc := func(w, h int, progressive bool) Header {
		return Header{Width: w, Height: h, Progressive: progressive, AdobeTransform: -1,
			Components: []Component{{1, 2, 2}, {2, 1, 1}, {3, 1, 1}}}
	}
	for _, tc := range []struct {
		name  string
		h     Header
		w, ht int
		want  Options
	}{
		{"baseline 12MP to 320: 1/8 leaves less than twice", ycc(4000, 3000, false), 320, 240, Options{Scale: 4}},
		{"baseline wide to 320: 1/8", ycc(5640, 3172, false), 320, 180, Options{Scale: 8, SkipAC: true}},
		{"baseline small: 1/2", ycc(2000, 1000, false), 320, 160, Options{Scale: 2}},
		{"baseline no room: full size", ycc(600, 400, false), 400, 267, Options{Scale: 1}},
		// 1/2 leaves 1920×1200, 1.5 times 1280×800: over halfNum/halfDen (4/3).
		{"baseline 9MP to 1280: 1/2 leaves 1.5 times", ycc(3840, 2400, false), 1280, 800, Options{Scale: 2}},
		// 1/2 leaves 1600×1000, 1.25 times 1280×800: under 4/3, where the
		// box of the reduced IDCT shows.
		{"baseline 6MP to 1280: 1/2 would leave 1.25 times", ycc(3200, 2000, false), 1280, 800, Options{Scale: 1}},
		{"baseline 4MP to 1280: 1/2 would leave the target", ycc(2560, 1600, false), 1280, 800, Options{Scale: 1}},
		// 1/4 leaves 960×600, 1.5 times 640×400: 1/4 and 1/8 still need twice.
		{"baseline 9MP to 640: 1/2, not 1/4", ycc(3840, 2400, false), 640, 400, Options{Scale: 2}},
		// 281k blocks kept at 1/4 (58 bytes each, 16 MB) pass KeepLimit; 1/8 gives
		// 500×375, which still covers 320×240.
		{"progressive 12MP to 320: 1/8 DC only", ycc(4000, 3000, true), 320, 240, Options{Scale: 8, SkipAC: true}},
		// 25.5k blocks at 1/2 keep 2.7 MB: under KeepLimit, the sharper scale stays.
		{"progressive small: 1/2", ycc(1200, 900, true), 300, 225, Options{Scale: 2}},
		// 90k blocks at 1/2 keep 9.5 MB; 1/4 (600×400) covers 500×333 and keeps 5.2 MB.
		{"progressive 4MP to 500: one step down", ycc(2400, 1600, true), 500, 333, Options{Scale: 4}},
		// 1/4 (1000×750) would not cover 1001×750: the store is the price of the target.
		{"progressive large target: 1/2", ycc(4000, 3000, true), 1001, 750, Options{Scale: 2}},
		// 103k blocks at full scale keep 7.4 MB beyond the planes (72 bytes each:
		// the int16 store, whose front becomes the planes, and the non-zero sets):
		// under KeepLimit, so a 1280 target keeps full scale (half, 1280×850,
		// would cover it).
		{"progressive 4MP to 1280: full scale", ycc(2560, 1700, true), 1280, 850, Options{Scale: 1}},
		// 1/4 (1000×750) just covers 1000×750; 1/8 would not.
		{"progressive large target: 1/4", ycc(4000, 3000, true), 1000, 750, Options{Scale: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ScaleFor(tc.h, tc.w, tc.ht))
		})
	}
	require.Greater(t, kept(ycc(4000, 3000, true), Options{Scale: 4}), int64(KeepLimit))
	require.Less(t, kept(ycc(1200, 900, true), Options{Scale: 2}), int64(KeepLimit))
}
