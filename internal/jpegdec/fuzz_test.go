package jpegdec

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"runtime"
	"testing"
)

// fuzzMaxAlloc bounds the decodes the fuzz target runs: larger images are
// only checked for not panicking in DecodeConfig and DecodeHeader.
const fuzzMaxAlloc = 16 << 20

// allocSlack is what Decode may allocate beyond AllocBytes: the decoder
// (about 43 KB), small objects, and the rounding up of at most 11 large
// allocations to whole pages.
const allocSlack = 128 << 10

// FuzzDecode checks, for any input: no panic at any scale; if image/jpeg
// decodes it, Decode at Scale 1 returns the same pixels, and every scale
// succeeds with bounds ceil(w/s)×ceil(h/s), but for the one deliberate
// deviation: Scale 1 may fail with ErrCoefficientRange (a progressive
// coefficient out of int16's range, or scans out of order), and then, and
// only then, so does every other scale (SkipAC may not); if image/jpeg fails, so does
// Decode at every scale without SkipAC (SkipAC may accept a file whose AC
// scans are corrupt); Workers 2 gives the result Workers 1 does; and Decode
// allocates no more than AllocBytes estimates, plus a constant.
//
// The seeds are the small files of the test corpus (large seeds slow the
// fuzzer down, mostly by making it minimize large inputs).
func FuzzDecode(f *testing.F) {
	for _, s := range allSamples(f) {
		if len(s.data) <= 8<<10 {
			f.Add(s.data)
		}
	}
	for _, tc := range coefRangeCases() {
		f.Add(coefFile(tc.set, tc.scans))
	}
	// A frame Workers 2 pipelines (1024 blocks), small enough to mutate.
	f.Add(stdEncode(f, toGray(naturalImage(256, 256, 11)), 5))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
	})
}

func checkDecode(t *testing.T, data []byte) {
	cfg, cerr := DecodeConfig(bytes.NewReader(data))
	wantCfg, wcerr := jpeg.DecodeConfig(bytes.NewReader(data))
	if (cerr == nil) != (wcerr == nil) || cerr == nil && cfg != wantCfg {
		t.Fatalf("DecodeConfig: %+v, %v; image/jpeg: %+v, %v", cfg, cerr, wantCfg, wcerr)
	}
	hdr, herr := DecodeHeader(bytes.NewReader(data))
	if herr != nil {
		// Decode reads the same segments first, and fails as well.
		for _, scale := range scales {
			if _, err := decodeBytes(data, Options{Scale: scale}); err == nil {
				t.Fatalf("DecodeHeader fails (%v) but Decode at 1/%d succeeds", herr, scale)
			}
		}
		return
	}
	// The estimate for the worst case of what may change after the first
	// scan (a later Adobe segment).
	est := func(opt Options) int64 {
		h := hdr
		h.AdobeTransform = 0
		return max(AllocBytes(hdr, opt), AllocBytes(h, opt))
	}
	if est(Options{}) > fuzzMaxAlloc {
		return
	}

	want, werr := jpeg.Decode(bytes.NewReader(data))
	rangeErr := false // Scale 1 failed with ErrCoefficientRange
	for _, opt := range []Options{{Scale: 1}, {Scale: 2}, {Scale: 4}, {Scale: 8}, {Scale: 8, SkipAC: true}} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got, err := decodeBytes(data, opt)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(est(opt))+allocSlack {
			t.Fatalf("%+v: %dx%d, %d components, progressive %v: allocated %d bytes, AllocBytes %d",
				opt, hdr.Width, hdr.Height, len(hdr.Components), hdr.Progressive, alloc, est(opt))
		}
		sameAllWays(t, data, opt, got, err)
		if opt.Scale < 8 {
			samePipelined(t, data, opt, got, err, est)
		}
		if werr != nil {
			if err == nil && !opt.SkipAC {
				t.Fatalf("%+v: image/jpeg fails (%v), Decode succeeds", opt, werr)
			}
			var fe jpeg.FormatError
			var ours FormatError
			if errors.As(werr, &fe) && err != nil && !errors.As(err, &ours) && !opt.SkipAC {
				t.Fatalf("%+v: image/jpeg fails with a FormatError (%v), Decode with %v", opt, werr, err)
			}
			continue
		}
		if errors.Is(err, ErrCoefficientRange) && hdr.Progressive && (opt.Scale == 1 || rangeErr) {
			rangeErr = true // Options{Scale: 1} comes first
			continue
		}
		if rangeErr && !opt.SkipAC {
			// Every scale finds it, so that a proving decode at 1/8 rejects
			// what a full-size one would.
			t.Fatalf("%+v: Scale 1 fails with %v, this scale with %v", opt, ErrCoefficientRange, err)
		}
		if err != nil {
			t.Fatalf("%+v: image/jpeg decodes, Decode fails: %v", opt, err)
		}
		w, h := want.Bounds().Dx(), want.Bounds().Dy()
		if opt.Scale == 1 {
			if diff := sameImage(want, got); diff != "" {
				t.Fatalf("Scale 1 differs from image/jpeg: %s", diff)
			}
			continue
		}
		wantRect := image.Rect(0, 0, (w+opt.Scale-1)/opt.Scale, (h+opt.Scale-1)/opt.Scale)
		if wantRect.Empty() {
			wantRect = image.Rectangle{}
		}
		if got.Bounds() != wantRect {
			t.Fatalf("%+v: bounds %v, want %v", opt, got.Bounds(), wantRect)
		}
	}
}

// sameAllWays checks, at Scale 1 and with SkipAC (which skips AC scans
// unread), that data decodes with opt to got and err (DecodeBytes's result)
// whichever way the decoder is fed: through a reader (at Scale 1), or from
// the slice with the end of the visible input moving by a window of
// a few bytes (1 to 13, varying with the input), so that it falls at every
// offset of the entropy-coded data, stuffed bytes and markers included.
func sameAllWays(t *testing.T, data []byte, opt Options, got image.Image, err error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if opt.Scale != 1 && !opt.SkipAC {
		return // the same entropy decoding as at Scale 1
	}
	window := 1 + len(data)%13
	got2, err2 := decodeBytesWindow(ctx, data, opt, window)
	if !sameResult(got, err, got2, err2) {
		t.Fatalf("%+v: DecodeBytes returns %v; with a window of %d bytes %v", opt, err, window, err2)
	}
	if opt.Scale == 1 {
		got3, err3 := Decode(bytes.NewReader(data), opt)
		if !sameResult(got, err, got3, err3) {
			t.Fatalf("%+v: DecodeBytes returns %v; Decode %v", opt, err, err3)
		}
	}
}

// samePipelined checks that data decodes with opt and Workers 2 (a pipeline,
// for a frame of at least pipeMinBlocks) as with Workers 1, to got and err,
// within what AllocBytes estimates for it.
func samePipelined(t *testing.T, data []byte, opt Options, got image.Image, err error, est func(Options) int64) {
	t.Helper()
	opt.Workers = 2
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got2, err2 := decodeBytes(data, opt)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(est(opt))+allocSlack {
		t.Fatalf("%+v: allocated %d bytes, AllocBytes %d", opt, alloc, est(opt))
	}
	if !sameResult(got, err, got2, err2) {
		t.Fatalf("%+v: Workers 1 returns %v, Workers 2 %v", opt, err, err2)
	}
}

// sameResult reports whether two decodes gave the same error, or the same
// image.
func sameResult(a image.Image, aerr error, b image.Image, berr error) bool {
	if aerr != nil || berr != nil {
		return aerr == berr
	}
	return sameImage(a, b) == ""
}
