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
	if err := guard("webp", webp.Dynamic()); err != nil {
		return err
	}
	return webp.Encode(w, img, webp.Options{Quality: o.Quality, Method: o.Method, Lossless: o.Lossless})
}

// EncodeWebPAnimation writes frames (all the same bounds) as an animated WebP;
// delays are in milliseconds; loop 0 repeats forever.
func EncodeWebPAnimation(w io.Writer, frames []image.Image, delays []int, loop int, o WebPOptions) error {
	if err := guard("webp", webp.Dynamic()); err != nil {
		return err
	}
	return webp.EncodeAll(w, &webp.WEBP{Image: frames, Delay: delays, LoopCount: loop},
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
	if err := guard("avif", avif.Dynamic()); err != nil {
		return err
	}
	defer avifReady.Store(true)
	return avif.Encode(w, img, avif.Options{Quality: o.Quality, QualityAlpha: o.Quality, Speed: o.Speed,
		ChromaSubsampling: image.YCbCrSubsampleRatio420})
}

// DecodeAVIF decodes the primary image of an AVIF. The caller has checked its
// header (dimensions, item counts) and reserved the allocation.
func DecodeAVIF(data []byte) (image.Image, error) {
	if err := guard("avif", avif.Dynamic()); err != nil {
		return nil, err
	}
	defer avifReady.Store(true)
	return avif.Decode(bytesReader(data))
}
