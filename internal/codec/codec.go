// Package codec is the one place fastimagecache calls the WebAssembly codecs
// (github.com/gen2brain/webp, avif and heic). Those packages try to dlopen a
// system libwebp/libavif/libheif at init before falling back to their
// WebAssembly copy; a system library would run untrusted bytes outside every
// confinement this project promises. Check reports that case, and every
// function here refuses to call a codec whose package loaded a system
// library: the codec is then unavailable (ErrDynamic), never silently native.
//
// Build with -tags nodynamic to leave the dlopen code out of the binary
// entirely (the packages' own build constraint).
//
// The codecs set no memory limit of their own and cannot be cancelled once
// called: callers check pixels from the header first, reserve the measured
// allocation from the budget, and run them in a worker under WithIsolation.
package codec

import (
	"errors"
	"fmt"
	"image"
	"io"
	"sync/atomic"

	"github.com/gen2brain/avif"
	"github.com/gen2brain/webp"
)

// calls counts the codec calls of this process.
var calls atomic.Int64

// Calls returns the number of encodes and decodes this process has asked of the codecs
// (Prepare's included). Tests use it to show that a host under WithIsolation calls none.
func Calls() int64 { return calls.Load() }

// ErrDynamic is returned when a codec package loaded a system library instead
// of its WebAssembly copy.
var ErrDynamic = errors.New("codec: a system library was loaded instead of the WebAssembly codec; build with -tags nodynamic")

// ErrUnavailable is returned for a codec left out of this build (HEIC without
// the heic build tag).
var ErrUnavailable = errors.New("codec: not in this build")

// guard turns a package's Dynamic() result into our verdict: nil from
// Dynamic means a system library is in use.
func guard(name string, dynamicErr error) error {
	if dynamicErr == nil {
		return fmt.Errorf("%s: %w", name, ErrDynamic)
	}
	return nil
}

// Check reports whether every codec in this build runs its WebAssembly copy.
func Check() error {
	return errors.Join(guard("webp", webp.Dynamic()), guard("avif", avif.Dynamic()), heicGuard())
}

// WebPOptions are the WebP encoder's settings.
type WebPOptions struct {
	Quality  int // 1..100
	Method   int // 0 (fast) .. 6 (small)
	Lossless bool
}

// EncodeWebP writes img as a still WebP.
func EncodeWebP(w io.Writer, img image.Image, o WebPOptions) error {
	calls.Add(1)
	if err := guard("webp", webp.Dynamic()); err != nil {
		return err
	}
	return webp.Encode(w, packed(img, false), webp.Options{Quality: o.Quality, Method: o.Method, Lossless: o.Lossless})
}

// EncodeWebPAnimation writes frames (all the same bounds) as an animated WebP;
// delays are in milliseconds; loop 0 repeats forever.
func EncodeWebPAnimation(w io.Writer, frames []image.Image, delays []int, loop int, o WebPOptions) error {
	calls.Add(1)
	if err := guard("webp", webp.Dynamic()); err != nil {
		return err
	}
	packedFrames := make([]image.Image, len(frames))
	for i, f := range frames {
		packedFrames[i] = packed(f, false)
	}
	return webp.EncodeAll(w, &webp.WEBP{Image: packedFrames, Delay: delays, LoopCount: loop},
		webp.Options{Quality: o.Quality, Method: o.Method, Lossless: o.Lossless})
}

// avifReady is set once an AVIF call has returned: the module has been compiled (once per
// process; see AVIFReady).
var avifReady atomic.Bool

// AVIFReady reports whether this process has already set up the AVIF module: compiled
// libavif (libaom, dav1d) to machine code, which the first AVIF call does once and which
// allocates far more than a small encode (see the README: about 110 MiB and 0.4-7 s).
// A caller reserving memory for an AVIF call adds the set-up while it is false.
func AVIFReady() bool { return avifReady.Load() }

// AVIFOptions are the AVIF encoder's settings.
type AVIFOptions struct {
	Quality int // 1..100
	Speed   int // 0 (small) .. 10 (fast)
}

// EncodeAVIF writes img as a still AVIF (4:2:0).
func EncodeAVIF(w io.Writer, img image.Image, o AVIFOptions) error {
	calls.Add(1)
	if err := guard("avif", avif.Dynamic()); err != nil {
		return err
	}
	defer avifReady.Store(true)
	return avif.Encode(w, packed(img, true), avif.Options{Quality: o.Quality, QualityAlpha: o.Quality, Speed: o.Speed,
		ChromaSubsampling: image.YCbCrSubsampleRatio420})
}

// DecodeAVIF decodes the primary image of an AVIF. The caller has checked its
// header (dimensions, item counts) and reserved the allocation.
func DecodeAVIF(data []byte) (image.Image, error) {
	calls.Add(1)
	if err := guard("avif", avif.Dynamic()); err != nil {
		return nil, err
	}
	defer avifReady.Store(true)
	return avif.Decode(bytesReader(data))
}

// Prepare builds the runtimes of the codecs that run on wazero (AVIF, and HEIC with the
// heic tag) now, instead of at their first call: wazero compiles their WebAssembly to
// machine code and maps it executable, which a worker can do only before its seccomp
// filter refuses executable memory for good. Prepare touches no untrusted byte (it encodes
// a 1×1 image). Without it, a confined worker's first AVIF or HEIC call finds executable
// memory refused and wazero falls back on its interpreter, 10 to 20 times slower.
func Prepare() error {
	if err := Check(); err != nil {
		return err
	}
	if err := EncodeAVIF(io.Discard, image.NewNRGBA(image.Rect(0, 0, 1, 1)), AVIFOptions{Quality: 60, Speed: 10}); err != nil {
		return fmt.Errorf("codec: prepare avif: %w", err)
	}
	if err := heicPrepare(); err != nil {
		return err
	}
	prepared.Store(true)
	return nil
}

// PrepareAVIF sets up the AVIF module now (see Prepare) if no AVIF call has yet; it
// touches no untrusted byte.
func PrepareAVIF() error {
	if AVIFReady() {
		return nil
	}
	if err := EncodeAVIF(io.Discard, image.NewNRGBA(image.Rect(0, 0, 1, 1)), AVIFOptions{Quality: 60, Speed: 10}); err != nil {
		return fmt.Errorf("codec: prepare avif: %w", err)
	}
	return nil
}

// PrepareHEIC sets up the HEIC module now, in builds that have it.
func PrepareHEIC() error { return heicPrepare() }

// prepared records a successful Prepare.
var prepared atomic.Bool

// Prepared reports whether Prepare has succeeded in this process.
func Prepared() bool { return prepared.Load() }

// heicReady is avifReady for the HEIC codec.
var heicReady atomic.Bool

// HEICReady reports whether the HEIC codec has compiled its module in this process.
func HEICReady() bool { return heicReady.Load() }
