package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// TestCLIBucket: with -bucket, what one node's directory put is seen from two others; a
// bad URL is a failure that does not echo it.
func TestCLIBucket(t *testing.T) {
	bucket := "file://" + filepath.ToSlash(t.TempDir())
	img := filepath.Join(t.TempDir(), "photo.jpg")
	require.NoError(t, os.WriteFile(img, fixture.JPEG(120, 60, 90), 0o600))
	code, out, stderr := runCLI(t, "put", "-dir", t.TempDir(), "-bucket", bucket, img)
	require.Equal(t, 0, code, stderr)
	id := strings.Fields(out)[1]

	code, out, stderr = runCLI(t, "stat", "-dir", t.TempDir(), "-bucket", bucket, id)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "width\t120")
	dst := filepath.Join(t.TempDir(), "t.jpg")
	code, _, stderr = runCLI(t, "get", "-dir", t.TempDir(), "-bucket", bucket, "-w", "30", "-o", dst, id)
	require.Equal(t, 0, code, stderr)
	code, _, _ = runCLI(t, "stat", "-dir", t.TempDir(), id) // local only: not there
	assert.Equal(t, 1, code)

	code, _, stderr = runCLI(t, "stat", "-dir", t.TempDir(), "-bucket", "nosuch://secret-token@x", id)
	assert.Equal(t, 1, code)
	assert.NotContains(t, stderr, "secret-token")
}
