package tiffscan

import "fmt"

// T4Options bits for coding variants golang.org/x/image/ccitt does not
// decode: it reads Group 3 as one-dimensional Modified Huffman rows, each
// ending in an EOL with no fill bits before it.
const (
	t4TwoDimensional = 1 << 0
	t4FillBits       = 1 << 2
)

// checkCCITT checks that a CCITT-compressed image is bilevel, as CCITT
// coding requires (x/image/tiff would otherwise read its one-bit rows as
// wider samples), and that a Group 3 image's T4Options declares no variant
// x/image/ccitt cannot decode. T6Options (Group 4) declares only
// uncompressed mode, which the decoder reports as an error if it occurs.
func (s *scanner) checkCCITT(comp uint64, spp, bpp int, t4 field) error {
	if spp != 1 || bpp != 1 {
		return fmt.Errorf("CCITT compression with %d samples of %d bits, want 1 of 1: %w", spp, bpp, ErrMalformed)
	}
	if comp != compCCITT3 || !t4.present {
		return nil
	}
	opts, err := s.scalar(t4, "T4Options", 0)
	if err != nil {
		return err
	}
	if opts&t4TwoDimensional != 0 {
		return fmt.Errorf("CCITT Group 3 two-dimensional coding: %w", ErrUnsupported)
	}
	if opts&t4FillBits != 0 {
		return fmt.Errorf("CCITT Group 3 fill bits: %w", ErrUnsupported)
	}
	return nil
}
