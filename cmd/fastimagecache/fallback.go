package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/fastimagecache/fastimagecache"
)

// loadFallback reads the image at path for HandlerOptions.Fallback and proves it as an
// upload is proved (Put: type sniffed from the bytes, header checked against the limits,
// decoded under the budget), so that serve fails at start, naming the file, when it is not
// an image the Cache accepts, rather than serving without a fallback. It reads at most the
// Limits' MaxBytes.
func loadFallback(ctx context.Context, c *fastimagecache.Cache, path string) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- the operator names the file with -fallback
	if err != nil {
		return nil, fmt.Errorf("-fallback: %w", err)
	}
	defer f.Close()
	limit := c.Limits().MaxBytes
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("-fallback %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("-fallback %s: over %d bytes: %w", path, limit, fastimagecache.ErrTooLarge)
	}
	if _, err := c.Put(ctx, bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("-fallback %s: not an image this server accepts (%s): %w", path, sentinelName(err), err)
	}
	return data, nil
}
