package fastimagecache

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// TestCodecsRefusedMakeFormatsUnavailable opens a Cache whose codec check reports a
// system library (as codec.Check does when one was loaded): New warns once; WebP and AVIF
// output fail with ErrInvalidSpec, and are left out of eager renditions; AVIF and HEIC
// input with ErrUnsupportedFormat; JPEG, PNG and WebP input keep working.
func TestCodecsRefusedMakeFormatsUnavailable(t *testing.T) {
	saved := codecCheck
	t.Cleanup(func() { codecCheck = saved })
	codecCheck = func() error { return fmt.Errorf("webp: %w", codec.ErrDynamic) }
	var logs bytes.Buffer
	c := newTestCache(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		WithEagerRenditions(Spec{Width: 32, Format: WebP}, Spec{Width: 32, Format: JPEG}))
	assert.Equal(t, 1, strings.Count(logs.String(), "level=WARN"), logs.String())
	assert.Contains(t, logs.String(), "system library")

	info := put(t, c, fixture.PNG(64, 48))
	for _, f := range []Format{WebP, AVIF} {
		_, err := c.Get(t.Context(), info.ID, Spec{Width: 20, Format: f})
		assert.ErrorIs(t, err, ErrInvalidSpec, "%s output", f)
		assert.ErrorIs(t, err, codec.ErrDynamic, "%s output", f)
	}
	r, err := c.Get(t.Context(), info.ID, Spec{Width: 20, Format: JPEG})
	require.NoError(t, err)
	readRendition(t, r)
	for _, f := range []Format{AVIF, HEIC} {
		assert.ErrorIs(t, c.inputUsable(f), ErrUnsupportedFormat, "%s input", f)
	}
	var avif bytes.Buffer
	require.NoError(t, codec.EncodeAVIF(&avif, image.NewNRGBA(image.Rect(0, 0, 16, 16)), codec.AVIFOptions{Quality: 60, Speed: 10}))
	_, err = c.Put(t.Context(), bytes.NewReader(avif.Bytes()))
	assert.ErrorIs(t, err, ErrUnsupportedFormat, "AVIF input")
	assert.ErrorIs(t, err, codec.ErrDynamic, "AVIF input")
	for _, f := range []Format{JPEG, PNG, GIF, WebP} {
		assert.NoError(t, c.inputUsable(f), "%s input", f)
	}

	codecCheck = func() error { return nil }
	ok := newTestCache(t)
	for _, f := range []Format{WebP, AVIF} {
		assert.NoError(t, ok.outputUsable(f))
		assert.NoError(t, ok.inputUsable(f))
	}
	assert.False(t, errors.Is(ok.inputUsable(HEIC), ErrUnsupportedFormat))
}
