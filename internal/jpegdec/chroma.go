package jpegdec

import "image"

// Chroma one scale up (libjpeg's jdmaster.c: "we try to scale up the chroma
// components via IDCT scaling rather than upsampling"). A 4:2:0 frame decoded
// at 1/2 has luma at half its size and chroma at a quarter; libjpeg (and so
// vipsthumbnail's shrink on load) instead reconstructs the chroma blocks with
// a full 8×8 inverse DCT, which puts chroma at the luma's size with all the
// detail the file has. Halving it again, then upsampling it back to the luma
// grid, loses the chroma detail a 1/2 decode keeps otherwise: about 0.4 dB of
// RGB PSNR on the bench photos once resized to 1280 (bench -large).
//
// It is done for baseline frames only (a progressive decode keeps one
// coefficient layout for every component), at 1/2 and 1/4 (1/8 reads only DC
// coefficients).

// chromaUp reports whether the frame, of chroma subsampling r, has its
// chroma reconstructed one scale up: see the comment above.
func (d *decoder) chromaUp(r image.YCbCrSubsampleRatio) bool {
	return d.nComp == 3 && !d.progressive && (d.shift == 1 || d.shift == 2) &&
		r == image.YCbCrSubsampleRatio420 && !d.isRGB()
}

// compShift is log2 of the scale component ci is reconstructed at.
func (d *decoder) compShift(ci int) uint {
	if d.fullChroma && ci > 0 {
		return d.shift - 1
	}
	return d.shift
}

// chromaUpHeader is chromaUp for AllocBytes, from a Header: it may say yes
// where the decode says no (an RGB frame), the safe side for an estimate.
func chromaUpHeader(h Header, shift uint) bool {
	c := h.Components
	if len(c) != 3 || h.Progressive || (shift != 1 && shift != 2) {
		return false
	}
	return c[0].H == 2*c[1].H && c[0].V == 2*c[1].V
}
