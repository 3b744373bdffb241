package jpegdec

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPhotos runs the equality and accuracy checks on the JPEG files
// (*.jpg, *.jpeg) of the directory named by $JPEGDEC_PHOTOS, e.g. a
// collection of real photos; it is skipped when that is unset. Scale 1 must
// equal image/jpeg; the scaled decodes must have a mean absolute error per
// plane of at most 0.5 against the box average of image/jpeg's decode. The
// maximum errors are reported, not checked: where the full decode saturates
// (the IDCT overshoots 255 or 0 near strong edges), the mean of the clipped
// pixels differs from the clipped mean, by up to 10 levels on real photos,
// and an edge pixel stands for pixels beyond the image (the first maximum
// reported compares with the box within the image, the second with the box
// including the decoded padding).
func TestPhotos(t *testing.T) {
	dir := os.Getenv("JPEGDEC_PHOTOS")
	if dir == "" {
		t.Skip("JPEGDEC_PHOTOS not set")
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.jp*g"))
	require.NotEmpty(t, names)
	worst := map[int]planeErr{}
	for _, name := range names {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		want, werr := jpeg.Decode(bytes.NewReader(data))
		got, err := decodeBytes(data, Options{})
		if werr != nil {
			assert.Error(t, err, name)
			continue
		}
		require.NoError(t, err, name)
		assert.Empty(t, sameImage(want, got), name)
		line := fmt.Sprintf("%-50s %dx%d", filepath.Base(name), want.Bounds().Dx(), want.Bounds().Dy())
		for _, s := range scales[1:] {
			line += fmt.Sprintf("  1/%d:", s)
			for _, p := range scaledError(t, data, s) {
				line += fmt.Sprintf(" %s %.2f/%d/%d", p.name, p.mean, p.max, p.maxPadded)
				assert.LessOrEqual(t, p.mean, 0.5, "%s at 1/%d, %s", name, s, p.name)
				w := worst[s]
				w.mean, w.max, w.maxPadded = max(w.mean, p.mean), max(w.max, p.max), max(w.maxPadded, p.maxPadded)
				worst[s] = w
			}
		}
		t.Log(line)
	}
	for _, s := range scales[1:] {
		w := worst[s]
		t.Logf("1/%d: worst plane mean error %.3f, max %d (%d with the padding)", s, w.mean, w.max, w.maxPadded)
	}
}
