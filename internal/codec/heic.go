//go:build heic

package codec

import (
	"image"

	"github.com/gen2brain/heic"
)

// HEIC reports whether this build decodes HEIC (the heic build tag: libheif
// and libde265 are LGPL, so they are left out of default builds).
const HEIC = true

func heicGuard() error { return guard("heic", heic.Dynamic()) }

// DecodeHEIC decodes the primary image of a HEIC. The caller has checked its
// header and reserved the allocation.
func DecodeHEIC(data []byte) (image.Image, error) {
	calls.Add(1)
	if err := heicGuard(); err != nil {
		return nil, err
	}
	defer heicReady.Store(true)
	return heic.Decode(bytesReader(data))
}

func heicPrepare() error {
	heic.Init()
	heicReady.Store(true)
	return nil
}
