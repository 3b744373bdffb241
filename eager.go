package fastimagecache

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Eager renditions (WithEagerRenditions) are made at Put, so that the first Get of each
// is a hit. Two things keep that cheap:
//
//   - One decode serves every rendition that decodes the same way: those the proving
//     decode's pixels can serve are rendered from them (proveAndRenderEager); the others
//     are grouped by how they decode (renderOpts: a JPEG's scale, all frames or one) and
//     each group is decoded once (storeEager). An Auto preset stands for up to three
//     renditions (AVIF, WebP, the source's format) that decode alike.
//   - The renders of one decode share its pixels (read only) and run on the cores no
//     other job is using (spareCores), each under the same reservation, which counts
//     every render that may run at once. A loaded server renders them one after the other.

// spareCores is how many goroutines a job about to start may use: the cores not taken
// by the decode and render jobs running now (at least one).
func (c *Cache) spareCores() int {
	return max(1, runtime.GOMAXPROCS(0)-int(c.jobs.Load()))
}

// topSum is the sum of the k largest of needs: what k renders running at once, out of
// those, can hold together.
func topSum(needs []int64, k int) int64 {
	s := slices.Clone(needs)
	slices.SortFunc(s, func(a, b int64) int { return cmp.Compare(b, a) })
	var n int64
	for _, v := range s[:min(k, len(s))] {
		n += v
	}
	return n
}

// renderEach renders every entry of rs from dec on up to k goroutines (the calling one
// included), each render recovering its own panic into ErrCorrupt. It returns when every
// render has returned.
func (c *Cache) renderEach(ctx context.Context, dec decoded, h header, rs []eagerRendition, k int) {
	var next atomic.Int32
	// Renders side by side take a core each; one alone may split its resize's rows across
	// the idle cores.
	rctx := withRowWorkers(ctx, 1)
	if k <= 1 || len(rs) <= 1 {
		rctx = c.renderSlot(ctx)
	}
	work := func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(rs) {
				return
			}
			r := &rs[i]
			r.done = true
			if c.hooks.eagerRender != nil {
				c.hooks.eagerRender(ctx)
			}
			if r.err = ctx.Err(); r.err == nil {
				r.out, r.err = c.renderOne(rctx, dec, h, r.spec)
			}
		}
	}
	var wg sync.WaitGroup
	for range min(k, len(rs)) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// renderOne renders s from dec, observed, turning a panic into ErrCorrupt.
func (c *Cache) renderOne(ctx context.Context, dec decoded, h header, s Spec) (out rendered, err error) {
	rctx, rob := c.begin(ctx, OpRender)
	defer func() {
		if p := recover(); p != nil {
			c.log.LogAttrs(ctx, slog.LevelError, "decoder panic recovered")
			out, err = rendered{}, fmt.Errorf("render panicked: %w", ErrCorrupt)
		}
		rob.done(err, Outcome{Format: h.format, Output: s.Format})
	}()
	return renderDecoded(rctx, dec, h, s)
}

// proveAndRenderEager runs the proving decode of data (inspected as h) and, under the same
// reservation and in the same job, computes the placeholder from its pixels (in the
// worker, when decoding is isolated) and renders from them the eager renditions that can
// come from it (see fromProof), on the cores left idle, recording each one's outcome in
// eager. The pixels are dropped when it returns; the renditions not rendered here are
// left to storeEager.
//
// Only the proof decides the result: a deadline that fires after the proof succeeded, in
// an eager render, fails those renditions, not the Put. The eager results are written by
// the decode job into a slice of its own and copied into eager only when run has
// returned because that job did (a run that gives up on a deadline returns while its
// goroutines may still be writing).
func (c *Cache) proveAndRenderEager(ctx context.Context, data []byte, h header, eager []eagerRendition) (placeholder, error) {
	// The reservation counts the input buffer whole: readLimited may leave its capacity
	// up to twice its length.
	setup := c.setupBytes(h.format, "")
	base := putBytes(h, cap(data)) + setup
	var needs []int64
	var from []int // indexes into eager rendered from the proof
	for i, e := range eager {
		if !c.fromProof(h, e.spec) {
			continue
		}
		// renderBytes counts the planes of a decode at the Spec's scale: those the proof
		// holds, as the Spec decodes at the proving decode's scale. A rendition the budget
		// cannot hold beside the proof is left to storeEager, which meets the limit alone.
		need := renderBytes(h, e.spec) + decodeOverhead + c.setupBytes(h.format, e.spec.Format) - setup
		if base+need <= c.lim.MemoryBudget {
			needs = append(needs, need)
			from = append(from, i)
		}
	}
	// As many renders at once as there are idle cores, and as the budget holds.
	k := min(c.spareCores(), len(from))
	for k > 1 && base+topSum(needs, k) > c.lim.MemoryBudget {
		k--
	}
	extra := topSum(needs, max(k, 1))
	// The decode job owns results (a copy of the specs it renders) until run returns
	// nil; eager itself is never touched by it.
	results := make([]eagerRendition, len(from))
	for j, i := range from {
		results[j] = eagerRendition{spec: eager[i].spec, key: eager[i].key}
	}
	var proved atomic.Bool
	var ph atomic.Pointer[placeholder] // stored before proved, by the decode goroutine
	err := c.runHolding(ctx, base+extra, int64(cap(data)), func(ctx context.Context) error {
		dctx, dob := c.begin(ctx, OpDecode)
		dec, p, err := c.proveImage(dctx, data, h)
		dob.done(err, Outcome{Format: h.format})
		if err != nil {
			return err
		}
		ph.Store(&p)
		proved.Store(true)
		var idx []int
		var keep []eagerRendition
		for j, r := range results {
			if reusable(dec, h, r.spec) {
				idx, keep = append(idx, j), append(keep, r)
			}
		}
		c.renderEach(ctx, dec, h, keep, k)
		for n, j := range idx {
			results[j] = keep[n]
		}
		return nil
	})
	var p placeholder
	if proved.Load() && ph.Load() != nil {
		p = *ph.Load()
	}
	switch {
	case err == nil:
		// run returned fn's own result, so the job has finished with results.
		for j, i := range from {
			eager[i].out, eager[i].err, eager[i].done = results[j].out, results[j].err, results[j].done
		}
		return p, nil
	case proved.Load() && ctx.Err() == nil:
		// The proof succeeded; an eager render then failed the run (its deadline fired, or
		// it panicked) and may still be running: its results are never read, and those
		// renditions are skipped. The Put stands.
		for _, i := range from {
			eager[i].done, eager[i].err = true, err
		}
		return p, nil
	}
	return placeholder{}, err
}

// storeEager stores the eager renditions of the image id just stored: those rendered from
// the proving decode, then the others, rendered now as a Get would render them. In
// process, those that decode alike share one decode (see renderGroup); isolated, each is
// one worker job, in the same singleflight group as Gets. A failure is logged and
// skipped; the Put has succeeded.
func (c *Cache) storeEager(ctx context.Context, id ID, data []byte, h header, eager []eagerRendition) {
	var groups [][]eagerRendition
	var opts []decodeOpts
	for _, e := range eager {
		if ctx.Err() != nil {
			return
		}
		if e.done {
			err := e.err
			if err == nil {
				_, err = c.storeRendition(ctx, id, e.key, e.out)
			}
			c.eagerFailed(ctx, id, err)
			continue
		}
		o := renderOpts(h, e.spec)
		if c.iso != nil {
			_, err, _ := c.group.Do(e.key, func() (any, error) {
				return c.renderStoreData(ctx, id, data, h, e.spec, e.key)
			})
			c.eagerFailed(ctx, id, err)
			continue
		}
		if i := slices.Index(opts, o); i >= 0 {
			groups[i] = append(groups[i], e)
		} else {
			opts, groups = append(opts, o), append(groups, []eagerRendition{e})
		}
	}
	for i, g := range groups {
		if ctx.Err() != nil {
			return
		}
		if len(g) == 1 {
			e := g[0]
			_, err, _ := c.group.Do(e.key, func() (any, error) {
				return c.renderStoreData(ctx, id, data, h, e.spec, e.key)
			})
			c.eagerFailed(ctx, id, err)
			continue
		}
		err := c.renderGroup(ctx, data, h, opts[i], g)
		for _, e := range g {
			if err == nil && e.done {
				err := e.err
				if err == nil {
					_, err = c.storeRendition(ctx, id, e.key, e.out)
				}
				c.eagerFailed(ctx, id, err)
			}
		}
		c.eagerFailed(ctx, id, err)
	}
}

// renderGroup decodes data once with o and renders every rendition of g from it, on the
// idle cores, under one reservation: the decode, and the k largest renders that run at
// once. Its results are in g when it returns nil.
func (c *Cache) renderGroup(ctx context.Context, data []byte, h header, o decodeOpts, g []eagerRendition) error {
	decode := h.decodeBytesFor(o)
	base := int64(cap(data)) + decodeOverhead + decode
	var needs []int64
	for _, e := range g {
		if err := c.prepareCodecs(ctx, h.format, e.spec.Format, int64(cap(data))); err != nil {
			return err
		}
		needs = append(needs, renderBytes(h, e.spec)-decode)
	}
	k := min(c.spareCores(), len(g))
	for k > 1 && base+topSum(needs, k) > c.lim.MemoryBudget {
		k--
	}
	results := slices.Clone(g)
	err := c.runHolding(ctx, base+topSum(needs, k), int64(cap(data)), func(ctx context.Context) error {
		dctx, dob := c.begin(ctx, OpDecode)
		dec, err := decodeImage(dctx, data, h, o)
		dob.done(err, Outcome{Format: h.format})
		if err != nil {
			return err
		}
		c.renderEach(ctx, dec, h, results, k)
		return nil
	})
	if err == nil {
		copy(g, results) // run returned fn's own result: the job is done with results
	}
	return err
}

// eagerFailed logs an eager rendition that could not be made (err not nil).
func (c *Cache) eagerFailed(ctx context.Context, id ID, err error) {
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "eager rendition skipped",
			slog.String("id", id.short()), slog.String("reason", reasonOf(err)))
	}
}
