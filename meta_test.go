package fastimagecache

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

func metaFile(dir string, id ID) string {
	return filepath.Join(dir, "o", string(id[:2]), string(id)+".meta")
}

// TestMetadataRebuiltFromOriginal: an original whose metadata file is missing (a crash
// between the two renames, a file removed by hand) or unreadable is still stored: Stat,
// Get and a duplicate Put rebuild the metadata from the verified original, write it back,
// and never report ErrNotFound. The placeholder is computed again, by a proving decode.
func TestMetadataRebuiltFromOriginal(t *testing.T) {
	ref := newDurRef(t)
	src := fixture.PNG(80, 60)
	spec := Spec{Width: 20}
	damage := map[string]func(p string) error{
		"missing": os.Remove,
		"garbage": func(p string) error { return os.WriteFile(p, []byte("{not json"), 0o640) },
		"invalid": func(p string) error { return os.WriteFile(p, []byte(`{"format":"svg","width":-1}`), 0o640) },
	}
	for name, dmg := range damage {
		for _, via := range []string{"stat", "get", "put"} {
			t.Run(name+"/"+via, func(t *testing.T) {
				dir := t.TempDir()
				c := openDur(t, dir, diskOnly)
				want := durPut(t, c, src)
				require.NotEmpty(t, want.Placeholder)
				require.NoError(t, c.Close())
				require.NoError(t, dmg(metaFile(dir, want.ID)))

				c = openDur(t, dir, diskOnly)
				switch via {
				case "stat":
					got, err := c.Stat(t.Context(), want.ID)
					require.NoError(t, err)
					assert.Equal(t, want, got)
				case "get":
					durSameBytes(t, ref.render(src, spec), durGet(t, c, want.ID, spec))
				case "put":
					assert.Equal(t, want, durPut(t, c, src))
				}
				raw, err := os.ReadFile(metaFile(dir, want.ID))
				require.NoError(t, err, "the rebuilt metadata is written back")
				var m originalMeta
				require.NoError(t, json.Unmarshal(raw, &m))
				assert.Equal(t, want, m.info(want.ID))
				assert.True(t, m.valid())
				durConsistent(t, dir, c)
			})
		}
	}
}

// TestMetadataOfAbsentOriginalIsNotFound: rebuilding never invents an entry: an ID with
// neither original nor metadata, and one whose original failed verification, are absent.
func TestMetadataOfAbsentOriginalIsNotFound(t *testing.T) {
	dir := t.TempDir()
	c := openDur(t, dir, diskOnly)
	src := fixture.PNG(40, 30)
	id := idOf(src)
	_, err := c.Stat(t.Context(), id)
	require.ErrorIs(t, err, ErrNotFound)

	durPut(t, c, src)
	require.NoError(t, os.Remove(metaFile(dir, id)))
	durFlip(t, durOriginalFile(dir, id), func(n int) int { return n / 2 })
	_, err = c.Stat(t.Context(), id)
	require.ErrorIs(t, err, ErrCorrupt, "the first read of a rotten original")
	_, err = c.Stat(t.Context(), id)
	require.ErrorIs(t, err, ErrNotFound, "once quarantined")
	assert.NoFileExists(t, metaFile(dir, id))
	durConsistent(t, dir, c)
}

// TestConcurrentReadsShareAMetadataRebuild: reads of one ID whose metadata is missing
// share one rebuild (it reads, verifies and decodes the whole original), as Gets share
// a render. The rebuild's decode waits until every reader has come for the metadata.
func TestConcurrentReadsShareAMetadataRebuild(t *testing.T) {
	dir := t.TempDir()
	c := openDur(t, dir, diskOnly)
	want := durPut(t, c, fixture.PNG(80, 60))
	require.NoError(t, c.Close())
	require.NoError(t, os.Remove(metaFile(dir, want.ID)))

	c = openDur(t, dir, diskOnly)
	const readers = 8
	var arrived sync.WaitGroup
	arrived.Add(readers)
	c.hooks.metaRebuild = arrived.Done
	var decodes atomic.Int32
	c.hooks.decodeStart = func(context.Context) {
		decodes.Add(1)
		arrived.Wait()
	}
	var wg sync.WaitGroup
	got := make([]Info, readers)
	errs := make([]error, readers)
	for i := range readers {
		wg.Go(func() { got[i], errs[i] = c.Stat(t.Context(), want.ID) })
	}
	wg.Wait()
	for i := range readers {
		require.NoError(t, errs[i])
		assert.Equal(t, want, got[i])
	}
	// One decode, or two or three where a reader came between the others' join and the
	// write-back; without sharing, one per reader.
	assert.Less(t, decodes.Load(), int32(readers/2), "decodes for %d concurrent reads", readers)
	durConsistent(t, dir, c)
}
