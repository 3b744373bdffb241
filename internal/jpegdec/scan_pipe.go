package jpegdec

import (
	"sync"
	"sync/atomic"
)

// A sequential scan decoded with Options.Workers > 1 runs as a pipeline of
// two goroutines: the caller's entropy-decodes (inherently serial) and
// dequantizes each block into a band of a small ring, as sequentialScan
// decodes it into its one block; a second one runs the inverse DCT of each
// finished band and stores it to the image. The inverse DCT is the larger
// part at full size, so when the ring is full (the second goroutine is
// behind), the caller's reconstructs a finished band itself rather than wait,
// and it helps with the last bands. The bits read, the arithmetic and the
// errors are those of sequentialScan: only where the inverse DCT runs
// changes.

const (
	// pipeBandBlocks is the number of blocks in a band: enough that handing
	// one over costs little next to its inverse DCTs (~0.1 ms of work), few
	// enough that the ring stays in the cache.
	pipeBandBlocks = 512
	// pipeBands is the number of bands in the ring: one being decoded, one
	// being reconstructed, and two to absorb the difference in pace.
	pipeBands = 4
	// pipeMinBlocks is the smallest frame (in blocks) decoded by a pipeline:
	// below two bands, the goroutine is not worth its start.
	pipeMinBlocks = 2 * pipeBandBlocks
	// pipeMaxShift bounds the scales pipelined: 1 alone.
	pipeMaxShift = 1
)

// pipeMeta is where a block of a band goes: the offset of its top left pixel
// in the plane of scan component comp.
type pipeMeta struct {
	off  int
	comp int
}

// pipeRing is the ring of bands: blocks and metadata of band k at
// [k*pipeBandBlocks, (k+1)*pipeBandBlocks).
type pipeRing struct {
	blocks []block
	meta   []pipeMeta
}

// pipeRingBytes is what a pipelined decode allocates for its ring.
const pipeRingBytes = pipeBands * pipeBandBlocks * (blockSize*4 + 16)

// pipeBand is a finished band handed to the reconstructing goroutine: its
// index in the ring and its number of blocks.
type pipeBand struct{ k, n int }

// frameBlocks is the number of blocks of the frame: MCUs times the blocks of
// one MCU of every component.
func (d *decoder) frameBlocks(mxx, myy int) int64 {
	var per int64
	for _, c := range d.comp[:d.nComp] {
		per += int64(c.h * c.v)
	}
	return mulSat(mulSat(int64(mxx), int64(myy)), per)
}

// pipelined reports whether a sequential scan of this frame is decoded by a
// pipeline: with more than one worker, at scale 1 (where the inverse DCT is
// one to two thirds of the decode; the reduced ones of 1/2 and below save
// less than the hand-over costs), and for a frame of at least pipeMinBlocks.
func (d *decoder) pipelined(mxx, myy int) bool {
	return d.workers > 1 && d.shift < pipeMaxShift && d.frameBlocks(mxx, myy) >= pipeMinBlocks
}

// sequentialScanPipe is sequentialScan (shift 0) as a pipeline: see above.
// The reconstructing goroutine has finished when it returns; an error is
// sequentialScan's, and a panic of that goroutine is raised again here.
func (d *decoder) sequentialScanPipe(sc []seqComp, mxx, myy int) (err error) {
	if d.ring.blocks == nil {
		d.ring.blocks = make([]block, pipeBands*pipeBandBlocks)
		d.ring.meta = make([]pipeMeta, pipeBands*pipeBandBlocks)
	}
	ring := &d.ring
	full := make(chan pipeBand, pipeBands)
	free := make(chan int, pipeBands)
	for k := range pipeBands {
		free <- k
	}
	var (
		abort    atomic.Bool // the decode failed: skip the inverse DCTs
		wg       sync.WaitGroup
		panicked any
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			if p := recover(); p != nil {
				panicked = p
				abort.Store(true)
				for b := range full {
					free <- b.k
				}
			}
		}()
		for b := range full {
			if !abort.Load() {
				d.reconstructBand(ring, b, sc)
			}
			free <- b.k
		}
	}()

	// next returns a free band: one the second goroutine has finished, or
	// when there is none, one the caller reconstructs itself.
	next := func() int {
		select {
		case k := <-free:
			return k
		default:
		}
		select {
		case k := <-free:
			return k
		case b := <-full:
			d.reconstructBand(ring, b, sc)
			return b.k
		}
	}
	cur, n := <-free, 0
	defer func() {
		// The second goroutine is done when this returns, even if the
		// caller's inverse DCT panics.
		defer func() {
			close(full)
			wg.Wait()
			if panicked != nil {
				panic(panicked)
			}
		}()
		if err == nil && n > 0 {
			full <- pipeBand{cur, n}
		}
		if err != nil {
			abort.Store(true)
		}
		// Help with the bands left.
		for !abort.Load() {
			select {
			case b := <-full:
				d.reconstructBand(ring, b, sc)
				continue
			default:
			}
			break
		}
	}()

	mcu, expectedRST := 0, uint8(rst0Marker)
	bs := 8 >> d.shift
	var (
		dc         [maxComponents]int32
		bx, by     int
		blockCount int
	)
	for my := 0; my < myy; my++ {
		for mx := 0; mx < mxx; mx++ {
			for i := range sc {
				c := &sc[i]
				for j := 0; j < c.h*c.v; j++ {
					// See processSOS about the block order.
					if len(sc) != 1 {
						bx = c.h*mx + j%c.h
						by = c.v*my + j/c.h
					} else {
						q := mxx * c.h
						bx = blockCount % q
						by = blockCount / q
						blockCount++
						if bx*8 >= d.width || by*8 >= d.height {
							continue
						}
					}
					dcDelta, err := d.decodeDC(c.hdc)
					if err != nil {
						return err
					}
					dc[i] += dcDelta
					if n == pipeBandBlocks {
						full <- pipeBand{cur, n}
						cur, n = next(), 0
						if abort.Load() {
							return nil // the panic is raised on the way out
						}
					}
					k := cur*pipeBandBlocks + n
					b := &ring.blocks[k]
					*b = block{}
					b[0] = dc[i] * c.qz[0]
					if d.eobRun > 0 {
						d.eobRun--
					} else if _, err := d.decodeAC(b, c.qz, c.hac, 1, blockSize-1, 0); err != nil {
						return err
					}
					ring.meta[k] = pipeMeta{off: bs * (by*c.stride + bx), comp: i}
					n++
				}
			}
			mcu++
			if d.ri > 0 && mcu%d.ri == 0 && mcu < mxx*myy {
				if err := d.restart(&expectedRST); err != nil {
					return err
				}
				dc = [maxComponents]int32{}
			}
		}
	}
	return nil
}

// reconstructBand runs the (full-size) inverse DCT of the blocks of band b
// and stores them to the image, as sequentialScan does block by block.
func (d *decoder) reconstructBand(ring *pipeRing, b pipeBand, sc []seqComp) {
	base := b.k * pipeBandBlocks
	blocks := ring.blocks[base : base+b.n]
	meta := ring.meta[base : base+b.n]
	for j := range blocks {
		m := meta[j]
		c := &sc[m.comp]
		dst := c.dst[m.off:]
		idctStore(&blocks[j], dst, c.stride)
	}
}
