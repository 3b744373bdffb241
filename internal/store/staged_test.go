package store

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStagedOriginalInvisibleUntilCommit checks that a staged original is nowhere a
// reader looks until Commit, and is a whole entry after it, with no temp file left.
func TestStagedOriginalInvisibleUntilCommit(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	data := []byte("staged original bytes")
	id := hexID(data)
	s, err := d.StageOriginal(ctx, id, data)
	require.NoError(t, err)
	_, err = d.Original(ctx, id)
	assert.ErrorIs(t, err, ErrNotExist)
	_, err = d.OriginalMeta(ctx, id)
	assert.ErrorIs(t, err, ErrNotExist)
	assert.NoFileExists(t, fileOf(dir, originalPath(id)))
	assert.Equal(t, 0, d.Stats().Originals)
	assert.Len(t, dirEntries(t, fileOf(dir, "tmp")), 1, "the staged bytes, in tmp/")

	created, err := s.Commit(ctx, []byte("meta"))
	require.NoError(t, err)
	assert.True(t, created)
	got, err := d.Original(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	meta, err := d.OriginalMeta(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, []byte("meta"), meta)
	assert.Equal(t, 1, d.Stats().Originals)
	assert.Empty(t, dirEntries(t, fileOf(dir, "tmp")))
	_, err = s.Commit(ctx, []byte("meta"))
	assert.Error(t, err, "a second Commit")
}

// TestStagedOriginalDiscard checks that a discarded stage leaves nothing, and that a
// stage committed over an entry already there rewrites nothing and leaves no temp file.
func TestStagedOriginalDiscard(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	data := []byte("discard me")
	id := hexID(data)
	s, err := d.StageOriginal(ctx, id, data)
	require.NoError(t, err)
	s.Discard()
	s.Discard()
	assert.Empty(t, dirEntries(t, fileOf(dir, "tmp")))
	_, err = d.Original(ctx, id)
	assert.ErrorIs(t, err, ErrNotExist)

	putOrig(t, d, data, []byte("first"))
	s, err = d.StageOriginal(ctx, id, data)
	require.NoError(t, err)
	created, err := s.Commit(ctx, []byte("second"))
	require.NoError(t, err)
	assert.False(t, created)
	meta, err := d.OriginalMeta(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, []byte("first"), meta)
	assert.Empty(t, dirEntries(t, fileOf(dir, "tmp")))
	assert.Equal(t, 1, d.Stats().Originals)
}

// TestStageOriginalRejectsWrongDigest checks that staging keeps PutOriginal's check that
// id is the data's digest, and writes nothing when it fails.
func TestStageOriginalRejectsWrongDigest(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	id := hexID([]byte("something else"))
	_, err := d.StageOriginal(ctx, id, []byte("data"))
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Empty(t, dirEntries(t, fileOf(dir, "tmp")))
	assert.NoFileExists(t, fileOf(dir, originalPath(id)))
}

// TestStagedCommitFailureLeavesNothing checks that a Commit failing at its meta write
// removes the staged bytes too: no temp file, no original, no metadata.
func TestStagedCommitFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	fail := false
	d := openStore(t, dir, Options{Faults: func(op string) error {
		if fail && op == FaultCreate {
			return os.ErrPermission
		}
		return nil
	}})
	data := []byte("commit fails")
	id := hexID(data)
	s, err := d.StageOriginal(ctx, id, data)
	require.NoError(t, err)
	fail = true
	_, err = s.Commit(ctx, []byte("meta"))
	require.Error(t, err)
	assert.Empty(t, dirEntries(t, fileOf(dir, "tmp")))
	assert.NoFileExists(t, fileOf(dir, originalPath(id)))
	assert.NoFileExists(t, fileOf(dir, metaPath(id)))
}
