package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// TestBenchTiers runs `bench -tiers` on generated photos with a file:// bucket (or the
// bucket in FIC_BENCH_BUCKET, e.g. a versitygw URL) and checks every tier has its row and
// that the bucket is left empty.
func TestBenchTiers(t *testing.T) {
	photos := t.TempDir()
	for i, w := range []int{1600, 1200, 2000} {
		require.NoError(t, os.WriteFile(filepath.Join(photos, "p"+string(rune('a'+i))+".jpg"), fixture.JPEG(w, w*3/4, 90), 0o600))
	}
	bucketDir := t.TempDir()
	bucket := "file://" + filepath.ToSlash(bucketDir)
	if u := os.Getenv("FIC_BENCH_BUCKET"); u != "" {
		bucket = u
	}
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"bench", "-tiers", "-bucket", bucket, photos}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	t.Log("\n" + out.String())
	for _, row := range []string{"local only: warm, memory tier", "local only: warm, disk tier", "from the bucket", "node C, disk tier"} {
		assert.Contains(t, out.String(), row)
	}
	var left []string
	_ = filepath.Walk(bucketDir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.HasSuffix(p, ".attrs") {
			left = append(left, p)
		}
		return nil
	})
	assert.Empty(t, left, "bench leaves the bucket empty")
}
