package fastimagecache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Stats is a snapshot of a Cache's counters, for metrics and health pages. Counters count
// since New; gauges (InFlight, BudgetInUse, store sizes) are current values.
type Stats struct {
	Puts        int64            // Put calls, accepted or not
	Gets        int64            // Get calls
	Hits        int64            // Gets served from a stored rendition
	Misses      int64            // Gets that rendered
	Rejections  map[string]int64 // failed calls by reason code ("too_large", "dimensions", ...)
	InFlight    int64            // decodes holding memory budget now
	BudgetInUse int64            // bytes of memory budget reserved now
	BudgetSize  int64            // Limits.MemoryBudget
	BudgetWaits int64            // decodes that had to wait for budget
	// BudgetQueue is the decodes waiting for budget now; at MaxQueue, the next is refused
	// with ErrBusy.
	BudgetQueue int64
	// BudgetWaitingBytes is the memory those waiters hold outside the budget now (uploads'
	// inputs); at a quarter of the budget, the next is refused with ErrBusy.
	BudgetWaitingBytes int64
	MaxQueue           int   // Limits.MaxQueue
	Evictions          int64 // renditions evicted for the quota since New
	Originals          int   // originals stored
	Renditions         int   // renditions stored
	StoreBytes         int64 // bytes of originals and renditions on disk

	// Hits by tier: MemoryHits + DiskHits + BucketHits = Hits. Misses counts decodes.
	MemoryHits    int64 // Gets served from the memory tier
	DiskHits      int64 // Gets served from the local disk tier
	BucketHits    int64 // Gets served from the bucket (WithBucket): rendered by any node
	BucketErrors  int64 // bucket calls that failed after their retries (WithBucket)
	BucketCorrupt int64 // bucket objects that failed verification and were not served

	// Decode workers (WithIsolation; zero without it).
	WorkersStarted int64 // worker processes started since New
	WorkersFailed  int64 // workers killed after a failed job, or found dead
}

// counters are the Cache's event counts.
type counters struct {
	puts, gets, hits, misses atomic.Int64
	memoryHits, diskHits     atomic.Int64

	// mu guards rejections.
	mu         sync.Mutex
	rejections map[string]int64
}

func (k *counters) reject(reason string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.rejections == nil {
		k.rejections = make(map[string]int64)
	}
	k.rejections[reason]++
}

// Stats returns a snapshot of the Cache's counters. It never blocks on decodes and is safe
// to call concurrently and after Close.
func (c *Cache) Stats() Stats {
	st := c.store.Stats()
	s := Stats{
		Puts:               c.count.puts.Load(),
		Gets:               c.count.gets.Load(),
		Hits:               c.count.hits.Load(),
		Misses:             c.count.misses.Load(),
		Rejections:         map[string]int64{},
		InFlight:           c.budget.active.Load(),
		BudgetInUse:        c.budget.inUse.Load(),
		BudgetSize:         c.budget.size,
		BudgetWaits:        c.budget.waits.Load(),
		BudgetQueue:        c.budget.waiting.Load(),
		BudgetWaitingBytes: c.budget.heldWaiting.Load(),
		MaxQueue:           c.lim.MaxQueue,
		Evictions:          st.Evictions,
		Originals:          st.Originals,
		Renditions:         st.Renditions,
		StoreBytes:         st.OriginalBytes + st.RenditionBytes,

		MemoryHits:    c.count.memoryHits.Load(),
		DiskHits:      c.count.diskHits.Load(),
		BucketHits:    st.BucketHits,
		BucketErrors:  st.BucketErrors,
		BucketCorrupt: st.BucketCorrupt,
	}
	if c.iso != nil {
		s.WorkersStarted, s.WorkersFailed = c.iso.pool.Started(), c.iso.pool.Failed()
	}
	c.count.mu.Lock()
	for k, v := range c.count.rejections {
		s.Rejections[k] = v
	}
	c.count.mu.Unlock()
	return s
}

// VerifyReport is the outcome of Cache.Verify.
type VerifyReport struct {
	Originals     int        // originals re-hashed
	Renditions    int        // renditions re-hashed
	BadOriginals  []ID       // originals whose bytes no longer match their ID; quarantined
	BadRenditions []BadEntry // renditions whose bytes no longer match their digest; quarantined
}

// BadEntry names a rendition that failed verification: its original's ID and its key.
type BadEntry struct {
	ID  ID
	Key string
}

// Verify re-hashes every stored original and rendition. An entry whose bytes no longer
// match its digest is moved aside into the store's quarantine folder, logged at Error and
// listed in the report; a bad original takes its renditions with it. Verify does not change
// the renditions' LRU order. It returns early with ctx's error when ctx is done.
func (c *Cache) Verify(ctx context.Context) (VerifyReport, error) {
	if err := c.enter(); err != nil {
		return VerifyReport{}, err
	}
	defer c.leave()
	r, err := c.store.Verify(ctx)
	rep := VerifyReport(r)
	for _, id := range r.BadOriginals {
		c.hot.RemoveOwner(string(id))
		c.metas.RemoveOwner(string(id))
	}
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return rep, fmt.Errorf("verify: %w", err)
		}
		return rep, storeErr("verify", err)
	}
	return rep, nil
}

// Ready reports whether the Cache can take work now, for a readiness probe: it fails with
// ErrClosed after Close, with ErrBusy while MaxQueue decodes already wait for memory budget
// (the next would be refused), and with ErrStorage when a file cannot be created and removed
// in the store's directory (a full or read-only disk). It writes nothing that outlives the
// call and never waits for budget.
func (c *Cache) Ready(ctx context.Context) error {
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	if q := c.budget.waiting.Load(); q >= c.budget.maxQueue {
		return fmt.Errorf("%d decodes waiting for memory: %w", q, ErrBusy)
	}
	if err := c.store.Probe(ctx); err != nil {
		return storeErr("probe", err)
	}
	return nil
}
