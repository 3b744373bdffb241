package fastimagecache

import "github.com/fastimagecache/fastimagecache/internal/tiffscan"

// The memory golang.org/x/image/tiff allocates to decode a CCITT Group 3 or 4
// TIFF (Compression 3 or 4) besides the destination image, as measured by
// TestCCITTDecodeBytesCoversAllocation. Per strip or tile it makes a new
// x/image/ccitt reader (a struct holding a 1 KiB bit buffer) and that reader's
// two row buffers of the block's width, and it unpacks the block, one bit per
// pixel, into a bytes.Buffer reused from block to block, which grows by
// doubling from 512 bytes. It reads the file through a buffer that grows about
// 1.25 times at a step (decodeImage's reader is no io.ReaderAt), about six
// times the file in all. The per-block allocations are garbage by the next
// block, but a file of many small strips allocates them many times over, so
// they are counted for every block: the estimate covers all the allocation a
// decode makes, not just what it holds at once.
//
// x/image/ccitt says it is not hardened against malicious input. What guards
// it here: tiffscan accepts only bilevel images and the one-dimensional Group
// 3 layout the package decodes, and checks sizes and the strip or tile table
// before it runs; its work is linear in pixels, blocks and input bits (a code
// that moves no pixel still costs at least one bit: TIFFCCITTModeLoop); it
// reads a strip through the ctx-aware reader as it decodes, so a deadline
// stops it; and a code error is ErrCorrupt.
const (
	// ccittPerBlock is the fixed allocation per strip or tile: the ccitt
	// reader, the section and limit readers around it, the bytes.Buffer and
	// options, and the block's offset and byte count as read from the file.
	ccittPerBlock = 1536 + 24
	// ccittFileFactor bounds the file buffer's growth, in multiples of the
	// file (a 1.25 growth series sums to five times its final size, itself
	// up to 1.25 times the file).
	ccittFileFactor = 7
	// ccittFixed covers the decoder's own state: its maps, the IFD, the
	// palette, and the size-class rounding of the large buffers.
	ccittFixed = 64 << 10
)

// isCCITT reports whether a TIFF compression value is CCITT Group 3 or 4.
func isCCITT(compression int) bool { return compression == 3 || compression == 4 }

// ccittDecodeBytes is what x/image/tiff allocates to decode the CCITT image
// info describes, from a file of fileLen bytes, apart from the destination
// image itself.
func ccittDecodeBytes(info tiffscan.Info, fileLen int) int64 {
	bw, bh := int64(info.BlockWidth), int64(info.BlockHeight)
	// The unpacked block, (bw+7)/8 bytes a row, read into a buffer that
	// doubles from 512 bytes until 512 bytes are free after the data: the
	// series sums to under twice its last size.
	packed := (bw + 7) / 8 * bh
	last := int64(512)
	for last < packed+512 {
		last *= 2
	}
	rows := 2 * allocSize(bw)
	return ccittFixed + ccittFileFactor*int64(fileLen) + 2*last + int64(info.Blocks)*(ccittPerBlock+rows)
}

// allocSize bounds the bytes the Go allocator hands out for a request of n:
// size classes waste under a fifth (plus 16 bytes for the smallest) up to
// 32 KiB, and larger requests are rounded up to 8 KiB pages.
func allocSize(n int64) int64 {
	if n <= 32<<10 {
		return n + n/4 + 16
	}
	const page = 8 << 10
	return (n + page - 1) / page * page
}
