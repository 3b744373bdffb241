package fastimagecache

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// watchedStore records every call made to the store once Close has closed it, and can
// hold Original reads until released.
type watchedStore struct {
	storage
	closed atomic.Bool
	mu     sync.Mutex
	late   []string // calls after Close

	holdOriginal atomic.Bool
	heldOriginal chan struct{} // receives when an Original read is held
	release      chan struct{} // closed to let held reads go on
	stored       chan struct{} // receives after each PutRendition
}

func watchStore(c *Cache) *watchedStore {
	w := &watchedStore{
		storage:      c.store,
		heldOriginal: make(chan struct{}, 16),
		release:      make(chan struct{}),
		stored:       make(chan struct{}, 16),
	}
	c.store = w
	return w
}

func (w *watchedStore) note(op string) {
	if w.closed.Load() {
		w.mu.Lock()
		w.late = append(w.late, op)
		w.mu.Unlock()
	}
}

func (w *watchedStore) lateCalls() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.late...)
}

func (w *watchedStore) PutOriginal(ctx context.Context, id string, data, meta []byte) (bool, error) {
	w.note("PutOriginal")
	return w.storage.PutOriginal(ctx, id, data, meta)
}

func (w *watchedStore) Original(ctx context.Context, id string) ([]byte, error) {
	w.note("Original")
	b, err := w.storage.Original(ctx, id)
	if w.holdOriginal.Load() {
		w.heldOriginal <- struct{}{}
		<-w.release
	}
	return b, err
}

func (w *watchedStore) OriginalMeta(ctx context.Context, id string) ([]byte, error) {
	w.note("OriginalMeta")
	return w.storage.OriginalMeta(ctx, id)
}

func (w *watchedStore) ReplaceMeta(ctx context.Context, id string, meta []byte) error {
	w.note("ReplaceMeta")
	return w.storage.ReplaceMeta(ctx, id, meta)
}

func (w *watchedStore) Delete(ctx context.Context, id string) error {
	w.note("Delete")
	return w.storage.Delete(ctx, id)
}

func (w *watchedStore) PutRendition(ctx context.Context, id, key string, meta, payload []byte) error {
	w.note("PutRendition")
	err := w.storage.PutRendition(ctx, id, key, meta, payload)
	select {
	case w.stored <- struct{}{}:
	default:
	}
	return err
}

func (w *watchedStore) OpenRendition(ctx context.Context, id, key string, limit int64) (*storedRendition, error) {
	w.note("OpenRendition")
	return w.storage.OpenRendition(ctx, id, key, limit)
}

func (w *watchedStore) MarkUsed(id, key string) {
	w.note("MarkUsed")
	w.storage.MarkUsed(id, key)
}

func (w *watchedStore) Verify(ctx context.Context) (storeReport, error) {
	w.note("Verify")
	return w.storage.Verify(ctx)
}

func (w *watchedStore) Close() error {
	err := w.storage.Close()
	w.closed.Store(true)
	return err
}

// hangGuard is how long a test waits for something that must happen before it fails
// instead of hanging; it never decides a result on a healthy machine.
const hangGuard = 30 * time.Second

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(hangGuard):
		t.Fatalf("hang guard: %s", what)
	}
}

func isClosed(c *Cache) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.closed
}

// TestCloseWaitsForAbandonedRender: a Get whose caller stopped waiting leaves its shared
// render running; Close must wait for it, so the render never touches the store after
// Close returned.
func TestCloseWaitsForAbandonedRender(t *testing.T) {
	c := newTestCache(t)
	info := put(t, c, fixture.PNG(400, 300))
	w := watchStore(c)
	w.holdOriginal.Store(true)

	ctx, cancel := context.WithCancel(t.Context())
	getErr := make(chan error, 1)
	go func() {
		r, err := c.Get(ctx, info.ID, Spec{Width: 50})
		if err == nil {
			r.Close()
		}
		getErr <- err
	}()
	waitFor(t, w.heldOriginal, "the render reads the original")
	cancel()
	require.ErrorIs(t, <-getErr, context.Canceled, "the caller stopped waiting")

	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	for !isClosed(c) { // Close has begun: let the render go on
		time.Sleep(time.Millisecond)
	}
	w.holdOriginal.Store(false)
	close(w.release)
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(hangGuard):
		t.Fatal("hang guard: Close")
	}
	waitFor(t, w.stored, "the render stores its rendition") // before Close returned, or (a bug) after
	assert.Empty(t, w.lateCalls(), "store calls after Close returned")
	assert.Zero(t, c.budget.active.Load(), "no reservation outlives Close")
}

// TestCloseDuringTraffic: Close while uploads and cold Gets are in flight. Every call ends
// with a result or ErrClosed, and the store sees no call after Close returned.
func TestCloseDuringTraffic(t *testing.T) {
	c := newTestCache(t, WithEagerRenditions(Spec{Width: 24}))
	seed := put(t, c, fixture.PNG(300, 200))
	w := watchStore(c)

	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, 1024)
	started := make(chan struct{}, workers)
	for g := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				var err error
				if (g+i)%2 == 0 {
					_, err = c.Put(t.Context(), bytes.NewReader(fixture.PNG(60+g, 40+i%50)))
				} else {
					var r *Rendition
					r, err = c.Get(t.Context(), seed.ID, Spec{Width: 10 + (g*37+i)%200})
					if err == nil {
						readRendition(t, r)
					}
				}
				if i == 0 {
					started <- struct{}{}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range workers {
		waitFor(t, started, "traffic starts")
	}
	require.NoError(t, c.Close())
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.ErrorIs(t, err, ErrClosed, "a call racing Close: %v", err)
	}
	assert.Empty(t, w.lateCalls(), "store calls after Close returned")
	assert.Zero(t, c.budget.active.Load(), "no reservation outlives Close")
	_, err := c.Put(t.Context(), bytes.NewReader(fixture.PNG(8, 8)))
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.Get(t.Context(), seed.ID, Spec{Width: 9})
	require.ErrorIs(t, err, ErrClosed)
}
