package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/jpegdec"
)

// memSlack is the fixed allowance of the memory target "peak memory per in-flight decode
// ≤ input bytes + 1.5× the scaled image + 8 MiB".
const memSlack = 8 << 20

// photoBound is one photo's memory target and what it is made of.
type photoBound struct {
	progressive bool
	scale       int   // the shrink-on-load scale the renderer picks (1, 2, 4 or 8)
	scaled      int64 // bytes of the image planes the decoder makes at that scale
	bound       int64 // len(input) + 1.5 × scaled + memSlack
}

// memBounds computes every photo's memory target for a size×size contain thumbnail.
func memBounds(photos []photo, size int) ([]photoBound, error) {
	out := make([]photoBound, len(photos))
	for i, p := range photos {
		h, err := jpegdec.DecodeHeader(bytes.NewReader(p.data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		rw, rh := containSize(h.Width, h.Height, size)
		s := jpegdec.ScaleFor(h, rw, rh).Scale // the renderer's own choice
		// The planes alone: AllocBytes of the same frame as a baseline image leaves out a
		// progressive decode's coefficient buffers, which must fit in the allowance.
		hp := h
		hp.Progressive = false
		scaled := jpegdec.AllocBytes(hp, jpegdec.Options{Scale: s})
		out[i] = photoBound{
			progressive: h.Progressive,
			scale:       s,
			scaled:      scaled,
			bound:       int64(len(p.data)) + scaled*3/2 + memSlack,
		}
	}
	return out, nil
}

// containSize is the size a w×h image is scaled to to fit in size×size without
// enlarging, as the library's geometry computes it. EXIF orientation is ignored: the
// library computes it on the oriented size and swaps it back to the stored axes, which for
// a square box gives the same result.
func containSize(w, h, size int) (int, int) {
	fw, fh := float64(size)/float64(w), float64(size)/float64(h)
	scale := min(fw, fh, 1)
	rw := max(1, int(math.Round(float64(w)*scale)))
	rh := max(1, int(math.Round(float64(h)*scale)))
	// As geometry does: where one axis set the scale, land on it exactly.
	if scale == fw {
		rw = size
	}
	if scale == fh {
		rh = size
	}
	return rw, rh
}

// coldAllocs puts every photo into a fresh store and Gets each one once, one in flight,
// and raises allocs[i] to the bytes the runtime allocated during photo i's Get. It is not
// timed. A GC before each reading flushes the per-P allocation caches, whose small objects
// runtime/metrics counts only when they leave the cache, so the difference is exact; with
// one Get in flight and nothing else running it is all that Get's, and the total it
// allocated is an upper bound on its peak live heap.
func coldAllocs(ctx context.Context, photos []photo, spec fastimagecache.Spec, allocs []uint64) error {
	dir, err := os.MkdirTemp("", "fastimagecache-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c, err := fastimagecache.New(dir)
	if err != nil {
		return err
	}
	defer c.Close()
	ids := make([]fastimagecache.ID, len(photos))
	for i, p := range photos {
		info, err := c.Put(ctx, bytes.NewReader(p.data))
		if err != nil {
			return fmt.Errorf("put %s: %w", p.name, err)
		}
		ids[i] = info.ID
	}
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	read := func() uint64 {
		runtime.GC()
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	for i, p := range photos {
		before := read()
		if _, err := getAll(ctx, c, ids[i], spec); err != nil {
			return fmt.Errorf("get %s: %w", p.name, err)
		}
		allocs[i] = max(allocs[i], read()-before)
	}
	return nil
}

// reportAllocs prints, for the baseline and the progressive photos apart, how the bytes
// allocated per cold Get compare with each photo's bound: the worst and the median ratio,
// the mean allocation, and how many photos exceed their bound.
func reportAllocs(w io.Writer, photos []photo, bounds []photoBound, allocs []uint64) {
	group := func(progressive bool) (string, int) {
		var ratios, mibs []float64
		worst, over := -1, 0
		for i := range photos {
			if bounds[i].progressive != progressive {
				continue
			}
			r := float64(allocs[i]) / float64(bounds[i].bound)
			if len(ratios) == 0 || r > slices.Max(ratios) {
				worst = i
			}
			ratios = append(ratios, r)
			mibs = append(mibs, mib(allocs[i]))
			if r > 1 {
				over++
			}
		}
		name := "baseline"
		if progressive {
			name = "progressive"
		}
		if len(ratios) == 0 {
			return fmt.Sprintf("%s 0 photos", name), 0
		}
		sorted := slices.Clone(ratios)
		slices.Sort(sorted)
		return fmt.Sprintf("%s %d photos: max %.0f%% of bound (worst %s: %.1f MiB vs bound %.1f MiB, decoded at 1/%d), median %.0f%%, mean %.1f MiB per Get",
			name, len(ratios), 100*slices.Max(ratios), photos[worst].name, mib(allocs[worst]), float64(bounds[worst].bound)/(1<<20),
			bounds[worst].scale, 100*sorted[len(sorted)/2], mean(mibs)), over
	}
	base, overBase := group(false)
	prog, overProg := group(true)
	fmt.Fprintf(w, "per cold Get allocation (upper bound on peak): %s; %s\n", base, prog)
	fmt.Fprintf(w, "bound = input + 1.5 × scaled planes + 8 MiB: %d of %d photos over it (baseline %d, progressive %d)\n",
		overBase+overProg, len(photos), overBase, overProg)
}
