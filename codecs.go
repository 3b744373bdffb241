package fastimagecache

import (
	"fmt"

	"github.com/fastimagecache/fastimagecache/internal/codec"
)

// The WebAssembly codecs (internal/codec: WebP and AVIF output, AVIF and HEIC input) are
// refused outright when their packages loaded a system library instead of their
// WebAssembly copy at init (a binary built without the nodynamic tag, on a machine with
// libwebp.so or libavif.so in the loader's path): such a library would decode untrusted
// bytes outside every limit and sandbox. New checks once and logs a warning; the formats
// are then unavailable, with typed errors.

// codecCheck is codec.Check; tests replace it.
var codecCheck = codec.Check

// checkCodecs runs codecCheck for New and logs its failure once, at Warn.
func (c *Cache) checkCodecs() {
	c.codecErr = codecCheck()
	if c.codecErr != nil {
		c.log.Warn("fastimagecache: WebP and AVIF output and AVIF and HEIC input are unavailable", "err", c.codecErr)
	}
}

// outputUsable returns an error wrapping ErrInvalidSpec when output format f needs a codec
// this Cache refused.
func (c *Cache) outputUsable(f Format) error {
	if (f == WebP || f == AVIF) && c.codecErr != nil {
		return fmt.Errorf("output format %s unavailable: %w: %w", f, c.codecErr, ErrInvalidSpec)
	}
	return nil
}

// inputUsable returns an error wrapping ErrUnsupportedFormat when input format f needs a
// codec this Cache refused (WebP input is decoded by golang.org/x/image/webp, pure Go).
func (c *Cache) inputUsable(f Format) error {
	if (f == AVIF || f == HEIC) && c.codecErr != nil {
		return fmt.Errorf("input format %s unavailable: %w: %w", f, c.codecErr, ErrUnsupportedFormat)
	}
	return nil
}
