package fastimagecache

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stagedBytes reports whether a temp file in dir/tmp holds exactly data.
func stagedBytes(t *testing.T, dir string, data []byte) bool {
	t.Helper()
	for name, size := range durFiles(t, dir, "tmp") {
		if size != int64(len(data)) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil && bytes.Equal(b, data) {
			return true
		}
	}
	return false
}

// TestPutStagesOriginalDuringProof checks that Put writes the original while the proving
// decode runs (the write and its fsync overlap the decode), and that it is not visible
// until the proof has passed: during the decode it is in tmp/ only, never stored.
func TestPutStagesOriginalDuringProof(t *testing.T) {
	dir := t.TempDir()
	c, err := New(dir)
	require.NoError(t, err)
	defer c.Close()
	data := photoJPEG(t, 64, 48)
	id := idOf(data)
	var staged, visible bool
	c.hooks.decodeStart = func(ctx context.Context) {
		deadline := time.Now().Add(10 * time.Second)
		for !staged && time.Now().Before(deadline) {
			staged = stagedBytes(t, dir, data)
			time.Sleep(time.Millisecond)
		}
		_, err := c.store.Original(context.Background(), string(id))
		visible = err == nil
	}
	info := put(t, c, data)
	assert.True(t, staged, "the original was not written while the proof ran")
	assert.False(t, visible, "the original was visible before its proof")
	assert.Equal(t, id, info.ID)
	got, err := c.store.Original(context.Background(), string(id))
	require.NoError(t, err)
	assert.Equal(t, data, got)
	assert.Empty(t, durFiles(t, dir, "tmp"))
}

// TestPutUnprovenLeavesNothing checks that an input whose proof fails leaves nothing
// behind its staged write: no temp file, no original, no metadata.
func TestPutUnprovenLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	c, err := New(dir)
	require.NoError(t, err)
	defer c.Close()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, photoLike(64, 64)))
	data := buf.Bytes()
	data[len(data)-30] ^= 0xff // inside the last IDAT: its checksum fails, its header passes
	_, err = c.Put(context.Background(), bytes.NewReader(data))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Empty(t, durFiles(t, dir, "tmp"))
	assert.Empty(t, durFiles(t, dir, "o"))
	_, err = c.Stat(context.Background(), idOf(data))
	assert.ErrorIs(t, err, ErrNotFound)
}
