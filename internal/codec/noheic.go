//go:build !heic

package codec

import "image"

// HEIC reports whether this build decodes HEIC (the heic build tag: libheif
// and libde265 are LGPL, so they are left out of default builds).
const HEIC = false

func heicGuard() error { return nil }

// DecodeHEIC returns ErrUnavailable: this build has no HEIC decoder.
func DecodeHEIC([]byte) (image.Image, error) { return nil, ErrUnavailable }

func heicPrepare() error { return nil }
