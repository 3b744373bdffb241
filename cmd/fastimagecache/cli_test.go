package main

import (
	"image/jpeg"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// Every command answers -h with its usage, exit code 0, and its usage line names every
// flag the command defines: -h is help everywhere, never a flag of its own.
func TestCLIHelpListsEveryFlag(t *testing.T) {
	flagLine := regexp.MustCompile(`^  -([a-z0-9-]+)`)
	for _, cmd := range []string{"demo", "serve", "put", "get", "stat", "verify", "gc", "bench"} {
		code, out, stderr := runCLI(t, cmd, "-h")
		require.Equal(t, 0, code, "%s -h: %s", cmd, stderr)
		synopsis, _, _ := strings.Cut(out, "\n")
		require.True(t, strings.HasPrefix(synopsis, "usage: fastimagecache "+cmd+" "), "%s -h printed %q", cmd, synopsis)
		var flags int
		for line := range strings.SplitSeq(out, "\n") {
			m := flagLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			flags++
			assert.Regexp(t, `[\[ |]-`+regexp.QuoteMeta(m[1])+`[ =\]]`, synopsis, "%s: the usage line omits -%s", cmd, m[1])
		}
		assert.NotZero(t, flags, "%s -h lists no flags", cmd)
	}
}

// get takes -width and -height (and -w, short for -width); the sizes are the shown ones.
func TestCLIGetWidthHeight(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(t.TempDir(), "photo.jpg")
	require.NoError(t, os.WriteFile(img, fixture.JPEG(200, 100, 90), 0o600))
	code, out, _ := runCLI(t, "put", "-dir", dir, img)
	require.Equal(t, 0, code, out)
	id := strings.Fields(out)[1]
	for _, tc := range []struct {
		args []string
		want [2]int
	}{
		{[]string{"-width", "80"}, [2]int{80, 40}},
		{[]string{"-height", "20"}, [2]int{40, 20}},
		{[]string{"-width", "100", "-height", "20"}, [2]int{40, 20}},
		{[]string{"-w", "50"}, [2]int{50, 25}},
		{[]string{"-width", "60", "-height", "60", "-fit", "cover"}, [2]int{60, 60}},
	} {
		dst := filepath.Join(t.TempDir(), "out.jpg")
		code, _, stderr := runCLI(t, append(append([]string{"get", "-dir", dir}, tc.args...), "-o", dst, id)...)
		require.Equal(t, 0, code, "%v: %s", tc.args, stderr)
		f, err := os.Open(dst)
		require.NoError(t, err)
		cfg, err := jpeg.DecodeConfig(f)
		_ = f.Close()
		require.NoError(t, err)
		assert.Equal(t, tc.want, [2]int{cfg.Width, cfg.Height}, "%v", tc.args)
	}
	// -h is help, not a height: it prints the usage and writes nothing.
	dst := filepath.Join(t.TempDir(), "out.jpg")
	code, out, _ = runCLI(t, "get", "-dir", dir, "-h", "10", "-o", dst, id)
	assert.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(out, "usage: fastimagecache get "), out)
	assert.NoFileExists(t, dst)
}

// Exit code 1 for every request the library rejects, unsupported formats included; 2
// only for a command line the CLI cannot parse.
func TestCLIExitCodes(t *testing.T) {
	dir := t.TempDir()
	files := t.TempDir()
	img := filepath.Join(files, "photo.jpg")
	require.NoError(t, os.WriteFile(img, fixture.JPEG(200, 100, 90), 0o600))
	html := filepath.Join(files, "avatar.png")
	require.NoError(t, os.WriteFile(html, fixture.HTML(), 0o600))
	svg := filepath.Join(files, "logo.svg")
	require.NoError(t, os.WriteFile(svg, fixture.SVG("http://169.254.169.254/"), 0o600))
	code, out, _ := runCLI(t, "put", "-dir", dir, img)
	require.Equal(t, 0, code, out)
	id := strings.Fields(out)[1]
	out0 := filepath.Join(files, "out")
	unknown := strings.Repeat("0", 64)

	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"put", "-dir", dir, html}, 1},
		{[]string{"put", "-dir", dir, svg}, 1},
		{[]string{"put", "-dir", dir, filepath.Join(files, "missing.jpg")}, 1},
		{[]string{"get", "-dir", dir, "-format", "bmp", "-o", out0, id}, 1},
		{[]string{"get", "-dir", dir, "-format", "heic", "-o", out0, id}, 1},
		{[]string{"get", "-dir", dir, "-width", "-5", "-o", out0, id}, 1},
		{[]string{"get", "-dir", dir, "-q", "500", "-o", out0, id}, 1},
		{[]string{"get", "-dir", dir, "-o", out0, unknown}, 1},
		{[]string{"stat", "-dir", dir, unknown}, 1},

		{[]string{"get", "-dir", dir, "-o", out0}, 2},
		{[]string{"get", "-dir", dir, id}, 2},
		{[]string{"get", "-dir", dir, "-fit", "fill", "-o", out0, id}, 2},
		{[]string{"get", "-dir", dir, "-width", "wide", "-o", out0, id}, 2},
		{[]string{"get", "-dir", dir, "-h", "10", "-o", out0, id}, 0}, // -h is help, whatever follows
		{[]string{"get", "-dir", dir, "-frobnicate", "-o", out0, id}, 2},
		{[]string{"stat", "-dir", dir, "../../etc/passwd"}, 2},
		{[]string{"put", "-dir", dir}, 2},
		{[]string{"serve", "-formats", "jpeg,svg"}, 2},
		{[]string{"frobnicate"}, 2},
	} {
		code, out, stderr := runCLI(t, tc.args...)
		assert.Equal(t, tc.want, code, "%v: %s%s", tc.args, out, stderr)
	}
}

// put stores every file it can and reports the others, exit code 1: a missing file does
// not stop the files after it.
func TestCLIPutReportsEachFile(t *testing.T) {
	dir := t.TempDir()
	files := t.TempDir()
	img := filepath.Join(files, "photo.jpg")
	require.NoError(t, os.WriteFile(img, fixture.JPEG(20, 10, 90), 0o600))
	code, out, _ := runCLI(t, "put", "-dir", dir, filepath.Join(files, "missing.jpg"), img)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "missing.jpg\tnot read")
	assert.Regexp(t, `photo\.jpg\t[0-9a-f]{64}\tjpeg 20x10`, out)
}
