package fastimagecache

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob/memblob"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/store"
)

// recObserver records every operation, with the operation it nests in.
type recObserver struct {
	mu   sync.Mutex
	ops  []recOp
	next atomic.Int64
}

type recOp struct {
	id, parent int64
	op         Op
	out        Outcome
	ended      bool
}

type recKey struct{ r *recObserver }

func (r *recObserver) Begin(ctx context.Context, op Op) (context.Context, func(Outcome)) {
	id := r.next.Add(1)
	parent, _ := ctx.Value(recKey{r}).(int64)
	r.mu.Lock()
	r.ops = append(r.ops, recOp{id: id, parent: parent, op: op})
	r.mu.Unlock()
	return context.WithValue(ctx, recKey{r}, id), func(o Outcome) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for i := range r.ops {
			if r.ops[i].id == id {
				if r.ops[i].ended {
					panic("end called twice")
				}
				r.ops[i].out, r.ops[i].ended = o, true
			}
		}
	}
}

// take returns the operations recorded since the last take.
func (r *recObserver) take() []recOp {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

// shape is ops as "op<parent-op" strings, in order of Begin.
func shape(ops []recOp) []string {
	byID := map[int64]Op{}
	var out []string
	for _, o := range ops {
		byID[o.id] = o.op
		s := string(o.op)
		if p, ok := byID[o.parent]; ok {
			s += "<" + string(p)
		}
		out = append(out, s)
	}
	return out
}

func TestObserverSeesNestedOperations(t *testing.T) {
	rec := &recObserver{}
	c := newTestCache(t, WithObserver(rec), WithMemoryCache(-1))
	info := put(t, c, fixture.PNG(64, 48))
	ops := rec.take()
	assert.Equal(t, []string{"put", "decode<put", "store<put"}, shape(ops))
	for _, o := range ops {
		require.True(t, o.ended, "%s never ended", o.op)
		assert.NoError(t, o.out.Err)
		assert.Empty(t, o.out.Reason)
		assert.Positive(t, o.out.Duration)
	}
	assert.Equal(t, PNG, ops[0].out.Format)
	assert.Equal(t, PNG, ops[1].out.Format)

	r, err := c.Get(t.Context(), info.ID, Spec{Width: 16, Format: JPEG})
	require.NoError(t, err)
	readRendition(t, r)
	ops = rec.take()
	assert.Equal(t, []string{"get", "render<get", "store<get"}, shape(ops))
	get := ops[0].out
	assert.Equal(t, Outcome{Format: PNG, Output: JPEG, Duration: get.Duration}, get, "a miss has no tier")
	assert.Equal(t, JPEG, ops[1].out.Output)

	r, err = c.Get(t.Context(), info.ID, Spec{Width: 16, Format: JPEG})
	require.NoError(t, err)
	readRendition(t, r)
	ops = rec.take()
	require.Equal(t, []string{"get"}, shape(ops))
	assert.Equal(t, TierDisk, ops[0].out.Tier)
}

func TestObserverSeesTiersAndRejections(t *testing.T) {
	rec := &recObserver{}
	c := newTestCache(t, WithObserver(rec))
	info := put(t, c, fixture.PNG(64, 48))
	for range 2 {
		r, err := c.Get(t.Context(), info.ID, Spec{Width: 16})
		require.NoError(t, err)
		readRendition(t, r)
	}
	ops := rec.take()
	last := ops[len(ops)-1]
	require.Equal(t, OpGet, last.op)
	assert.Equal(t, TierMemory, last.out.Tier)

	_, err := c.Put(t.Context(), bytes.NewReader([]byte("<svg xmlns='http://www.w3.org/2000/svg'/>")))
	require.ErrorIs(t, err, ErrUnsupportedFormat)
	_, err = c.Get(t.Context(), ID(info.ID[:63]+"0"), Spec{Width: 16})
	require.ErrorIs(t, err, ErrNotFound)
	ops = rec.take()
	require.Equal(t, []string{"put", "get"}, shape(ops))
	assert.Equal(t, "unsupported_format", ops[0].out.Reason)
	assert.ErrorIs(t, ops[0].out.Err, ErrUnsupportedFormat)
	assert.Equal(t, "not_found", ops[1].out.Reason)
}

func TestObserverSeesFailedRenderAndStore(t *testing.T) {
	rec := &recObserver{}
	var fail atomic.Bool
	c := newTestCache(t, WithObserver(rec), WithMemoryCache(-1), withStoreFaults(func(op string) error {
		if fail.Load() && op == store.FaultCreate {
			return errors.New("disk full")
		}
		return nil
	}))
	info := put(t, c, fixture.PNG(64, 48))
	rec.take()
	fail.Store(true)
	_, err := c.Get(t.Context(), info.ID, Spec{Width: 16})
	require.ErrorIs(t, err, ErrStorage)
	ops := rec.take()
	require.Equal(t, []string{"get", "render<get", "store<get"}, shape(ops))
	assert.NoError(t, ops[1].out.Err, "the render itself succeeded")
	assert.Equal(t, "storage", ops[2].out.Reason)
	assert.Equal(t, "storage", ops[0].out.Reason)
}

func TestMultiObserver(t *testing.T) {
	a, b := &recObserver{}, &recObserver{}
	c := newTestCache(t, WithObserver(MultiObserver(a, nil, b)))
	put(t, c, fixture.PNG(8, 8))
	assert.Equal(t, []string{"put", "decode<put", "store<put"}, shape(a.take()))
	assert.Equal(t, []string{"put", "decode<put", "store<put"}, shape(b.take()))
}

func TestReady(t *testing.T) {
	var fail atomic.Bool
	dir := t.TempDir()
	c, err := New(dir, withStoreFaults(func(op string) error {
		if fail.Load() && op == store.FaultCreate {
			return errors.New("read-only file system")
		}
		return nil
	}), WithLimits(Limits{MaxQueue: 1}))
	require.NoError(t, err)
	require.NoError(t, c.Ready(t.Context()))

	fail.Store(true)
	err = c.Ready(t.Context())
	require.ErrorIs(t, err, ErrStorage)
	assert.NotContains(t, err.Error(), dir)
	fail.Store(false)
	require.NoError(t, c.Ready(t.Context()))

	// A full queue: one decode waits for budget that another holds.
	hold, err := c.budget.reserve(t.Context(), c.budget.size)
	require.NoError(t, err)
	waited := make(chan error, 1)
	go func() {
		release, err := c.budget.reserveHolding(context.Background(), 1, 1000) // an upload holding its input
		if err == nil {
			release()
		}
		waited <- err
	}()
	require.Eventually(t, func() bool { return c.Stats().BudgetQueue == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, 1, c.Stats().MaxQueue)
	assert.Equal(t, int64(1000), c.Stats().BudgetWaitingBytes)
	require.ErrorIs(t, c.Ready(t.Context()), ErrBusy)
	hold()
	require.NoError(t, <-waited)
	require.NoError(t, c.Ready(t.Context()))

	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Ready(t.Context()), ErrClosed)
}

func TestObserverSeesBucketTier(t *testing.T) {
	b := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = b.Close() })
	rec := &recObserver{}
	a, other := bucketNode(t, b), bucketNode(t, b, WithObserver(rec))
	info := put(t, a, fixture.PNG(64, 48))
	r, err := a.Get(t.Context(), info.ID, Spec{Width: 16})
	require.NoError(t, err)
	readRendition(t, r)
	for _, want := range []string{TierBucket, TierDisk} { // rendered by a; then other's own disk
		r, err = other.Get(t.Context(), info.ID, Spec{Width: 16})
		require.NoError(t, err)
		readRendition(t, r)
		ops := rec.take()
		require.Equal(t, []string{"get"}, shape(ops))
		assert.Equal(t, want, ops[0].out.Tier)
	}
}
