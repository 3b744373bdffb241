package fastimagecache

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// TestPurge: on every tier (memory, local disk, bucket), Purge removes the ID's
// renditions and keeps the original and its metadata; the next Get renders again.
func TestPurge(t *testing.T) {
	ctx := context.Background()
	type setup struct {
		opts   []Option
		bucket *blob.Bucket
	}
	setups := map[string]setup{
		"memory+disk": {},
		"disk":        {opts: []Option{WithMemoryCache(-1)}},
	}
	for name, b := range bucketKinds(t) {
		setups["bucket-"+name] = setup{opts: []Option{WithBucket(b)}, bucket: b}
	}
	for name, su := range setups {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			c, err := New(dir, su.opts...)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, c.Close()) })
			src := fixture.JPEG(160, 120, 90)
			info := put(t, c, src)
			decodes := countDecodes(c)
			specs := []Spec{{Width: 40}, {Width: 64, Height: 64, Fit: Cover}}
			var before [][]byte
			for _, s := range specs {
				r, err := c.Get(ctx, info.ID, s)
				require.NoError(t, err)
				before = append(before, readRendition(t, r))
			}
			require.Equal(t, int32(2), decodes.Load())
			require.Len(t, durRenditionFiles(t, dir, info.ID), 2)
			if su.bucket != nil {
				require.Len(t, keysWith(bucketKeys(t, su.bucket), "/r/"+string(info.ID)), 2)
			}

			require.NoError(t, c.Purge(ctx, info.ID))

			assert.Empty(t, durRenditionFiles(t, dir, info.ID), "local disk tier")
			if su.bucket != nil {
				assert.Empty(t, keysWith(bucketKeys(t, su.bucket), "/r/"), "bucket")
				assert.Len(t, keysWith(bucketKeys(t, su.bucket), "/o/"+string(info.ID)), 1, "the original stays")
			} else {
				assert.FileExists(t, filepath.Join(dir, "o", string(info.ID[:2]), string(info.ID)+".img"), "the original stays")
			}
			n, _ := c.hot.Len()
			assert.Zero(t, n, "memory tier")
			got, err := c.Stat(ctx, info.ID)
			require.NoError(t, err)
			assert.Equal(t, info, got, "the metadata stays")

			for i, s := range specs {
				r, err := c.Get(ctx, info.ID, s)
				require.NoError(t, err)
				assert.Equal(t, before[i], readRendition(t, r), "rendered again, the same bytes")
			}
			assert.Equal(t, int32(4), decodes.Load(), "every rendition rendered again")
			assert.Len(t, durRenditionFiles(t, dir, info.ID), 2, "and stored again")
		})
	}
}

// TestPurgeSeenByOtherNodes: a Purge on node A makes node B, which holds the rendition
// in its own disk tier, render it again.
func TestPurgeSeenByOtherNodes(t *testing.T) {
	ctx := context.Background()
	b := bucketKinds(t)["file"]
	a, nb := bucketNode(t, b), bucketNode(t, b)
	info := put(t, a, fixture.JPEG(160, 120, 90))
	spec := Spec{Width: 40}
	decB := countDecodes(nb)
	for range 2 {
		r, err := nb.Get(ctx, info.ID, spec)
		require.NoError(t, err)
		readRendition(t, r)
	}
	require.Equal(t, int32(1), decB.Load(), "B renders once, then serves its disk tier")
	require.NoError(t, a.Purge(ctx, info.ID))
	r, err := nb.Get(ctx, info.ID, spec)
	require.NoError(t, err)
	readRendition(t, r)
	assert.Equal(t, int32(2), decB.Load(), "B renders again after A's Purge")
}

// TestPurgeErrors: unknown and malformed IDs, and a closed Cache.
func TestPurgeErrors(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t)
	require.ErrorIs(t, c.Purge(ctx, idOf([]byte("absent"))), ErrNotFound)
	require.ErrorIs(t, c.Purge(ctx, "../x"), ErrInvalidSpec)
	info := put(t, c, fixture.PNG(20, 10))
	require.NoError(t, c.Delete(ctx, info.ID))
	require.ErrorIs(t, c.Purge(ctx, info.ID), ErrNotFound, "a deleted ID")
	c2, err := New(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, c2.Close())
	require.ErrorIs(t, c2.Purge(ctx, info.ID), ErrClosed)
}

// TestHandlerOffersNoPurgeOrDelete: no method or path of the Handler removes anything.
func TestHandlerOffersNoPurgeOrDelete(t *testing.T) {
	dir := t.TempDir()
	c, err := New(dir)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	info := put(t, c, fixture.PNG(40, 30))
	r, err := c.Get(t.Context(), info.ID, Spec{Width: 20})
	require.NoError(t, err)
	readRendition(t, r)
	h := c.Handler(HandlerOptions{AllowUpload: true, SigningKey: []byte("k"), Presets: map[string]Spec{"purge": {Width: 20}}})
	for _, method := range []string{http.MethodDelete, "PURGE", http.MethodPost, http.MethodPut, http.MethodPatch} {
		for _, path := range []string{"/" + string(info.ID), "/" + string(info.ID) + "/purge", "/" + string(info.ID) + "/delete"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
			assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, "%s %s", method, path)
		}
	}
	assert.Len(t, durRenditionFiles(t, dir, info.ID), 1)
	_, err = c.Stat(t.Context(), info.ID)
	require.NoError(t, err)
}

// TestPurgeRacingDeleteOnAnotherNode: a Delete on B landing between A's Purge reading the
// metadata and writing it back must not leave metadata naming the deleted original in
// the bucket (which every node would then serve as an ID without an image).
func TestPurgeRacingDeleteOnAnotherNode(t *testing.T) {
	ctx := context.Background()
	for kind, b := range bucketKinds(t) {
		t.Run(kind, func(t *testing.T) {
			var (
				armed  atomic.Bool
				nb     *Cache
				id     ID
				delErr error
			)
			race := optionFunc(func(c *config) {
				c.bucketFaults = func(op string) error {
					if op == "write" && armed.CompareAndSwap(true, false) {
						delErr = nb.Delete(ctx, id) // B deletes just before A writes
					}
					return nil
				}
			})
			a := bucketNode(t, b, race)
			nb = bucketNode(t, b)
			info := put(t, a, fixture.PNG(30, 20))
			id = info.ID
			armed.Store(true)
			err := a.Purge(ctx, id)
			require.False(t, armed.Load(), "the Delete ran inside the Purge")
			require.NoError(t, delErr)
			assert.ErrorIs(t, err, ErrNotFound, "the ID was deleted under the Purge")
			assert.Empty(t, keysWith(bucketKeys(t, b), string(id)), "nothing of the ID is left in the bucket")
			for _, n := range []*Cache{a, nb} {
				_, err := n.Stat(ctx, id)
				assert.ErrorIs(t, err, ErrNotFound)
			}
		})
	}
}
