package main

import (
	"bytes"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
