//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package store

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenLocksDirectory: a second Open of a directory in use fails at once with
// ErrLocked, before it touches anything (the first Disk's temp files survive), and the
// directory is free again after Close.
func TestOpenLocksDirectory(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir, Options{})
	require.NoError(t, err)
	tmp := fileOf(dir, dirTmp+"/inflight.tmp") // a write of the first Disk, in progress
	require.NoError(t, os.WriteFile(tmp, []byte("x"), 0o600))

	d2, err := Open(dir, Options{})
	require.ErrorIs(t, err, ErrLocked)
	assert.Nil(t, d2)
	assert.NotContains(t, err.Error(), dir)
	assert.FileExists(t, tmp, "the refused Open cleared nothing")

	require.NoError(t, d.Close())
	d2, err = Open(dir, Options{})
	require.NoError(t, err, "Close releases the lock")
	assert.NoFileExists(t, tmp, "the new Disk cleared the stale temp file")
	require.NoError(t, d2.Close())
}
