package resize

import "sync"

// parallelMinSamples is the least work (source samples a pass reads) worth splitting:
// below about a megapixel, starting goroutines and their row buffers costs more than a
// second core saves.
const parallelMinSamples = 1 << 20

// parts is how many goroutines to split rows output rows of a pass reading samples source
// samples across: 1 unless workers > 1 and the pass is large, never more than one per
// 16 output rows.
func parts(workers, rows int, samples int64) int {
	if workers <= 1 || samples < parallelMinSamples {
		return 1
	}
	return max(min(workers, rows/16), 1)
}

// parallel runs f(0) … f(n-1), on n goroutines when n > 1, and returns when all have
// finished. A panic in one is re-raised on the caller's goroutine (where the render's
// recovery is), never left to crash the process.
func parallel(n int, f func(i int)) {
	if n <= 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	var once sync.Once
	var caught any
	for i := range n {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					once.Do(func() { caught = p })
				}
			}()
			f(i)
		})
	}
	wg.Wait()
	if caught != nil {
		panic(caught)
	}
}
