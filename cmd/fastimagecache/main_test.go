package main

import (
	"bytes"
	"context"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLIPutStatGet(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(t.TempDir(), "photo.jpg")
	require.NoError(t, os.WriteFile(img, fixture.JPEG(200, 100, 90), 0o600))
	html := filepath.Join(t.TempDir(), "avatar.png")
	require.NoError(t, os.WriteFile(html, fixture.HTML(), 0o600))

	code, out, _ := runCLI(t, "put", "-dir", dir, img)
	require.Equal(t, 0, code, out)
	fields := strings.Fields(out)
	require.Len(t, fields, 4)
	id := fields[1]

	code, out, _ = runCLI(t, "put", "-dir", dir, html)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "rejected")

	code, out, _ = runCLI(t, "stat", "-dir", dir, id)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "width\t200")

	dst := filepath.Join(t.TempDir(), "thumb.jpg")
	code, _, stderr := runCLI(t, "get", "-dir", dir, "-w", "50", "-o", dst, id)
	require.Equal(t, 0, code, stderr)
	f, err := os.Open(dst)
	require.NoError(t, err)
	defer f.Close()
	cfg, err := jpeg.DecodeConfig(f)
	require.NoError(t, err)
	assert.Equal(t, [2]int{50, 25}, [2]int{cfg.Width, cfg.Height})

	code, _, _ = runCLI(t, "stat", "-dir", dir, "../../etc/passwd")
	assert.Equal(t, 2, code)
	code, _, _ = runCLI(t, "stat", "-dir", dir, strings.Repeat("0", 64))
	assert.Equal(t, 1, code)
	code, _, _ = runCLI(t, "frobnicate")
	assert.Equal(t, 2, code)
}

func TestCLIDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("demo renders a 12-megapixel photo")
	}
	dst := filepath.Join(t.TempDir(), "thumb.jpg")
	code, out, stderr := runCLI(t, "demo", "-o", dst)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "ErrTypeMismatch")
	assert.Contains(t, out, "ErrDimensions")
	assert.NotContains(t, out, "GIF with 10000 frames  stored")
	f, err := os.Open(dst)
	require.NoError(t, err)
	defer f.Close()
	cfg, err := jpeg.DecodeConfig(f)
	require.NoError(t, err)
	assert.Equal(t, [2]int{240, 320}, [2]int{cfg.Width, cfg.Height}, "EXIF-rotated photo comes out portrait")
}

// TestCLIDirInUse: while another Cache (a running serve) holds the store directory, every
// command that opens it fails at once, exit code 1, with a message that says so; once it
// is closed, the same command works.
func TestCLIDirInUse(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(t.TempDir(), "photo.png")
	require.NoError(t, os.WriteFile(img, fixture.PNG(40, 30), 0o600))
	holder, err := fastimagecache.New(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = holder.Close() })
	for _, args := range [][]string{
		{"put", "-dir", dir, img},
		{"stat", "-dir", dir, strings.Repeat("0", 64)},
		{"verify", "-dir", dir},
		{"gc", "-dir", dir},
		{"serve", "-dir", dir, "-addr", "127.0.0.1:0", "-debug-addr", ""},
	} {
		// A hang guard: were the lock not enforced, serve would serve until ctx ends.
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		var out, errb bytes.Buffer
		code := run(ctx, args, &out, &errb)
		cancel()
		stderr := errb.String()
		assert.Equal(t, 1, code, "%v", args)
		assert.Contains(t, stderr, "in use by another fastimagecache process", "%v", args)
		assert.NotContains(t, stderr, dir, "no path in the message")
	}
	require.NoError(t, holder.Close())
	code, out, stderr := runCLI(t, "put", "-dir", dir, img)
	assert.Equal(t, 0, code, out+stderr)
}
