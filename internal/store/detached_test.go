package store

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestDetachedTier: a Detached store keeps renditions without a local original, across a
// reopen, and DropRenditions removes them; a normal store refuses them.
func TestDetachedTier(t *testing.T) {
	ctx := context.Background()
	id, key := strings.Repeat("a", 64), strings.Repeat("b", 64)
	dir := t.TempDir()
	plain, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.PutRendition(ctx, id, key, []byte("{}"), []byte("payload")); !errors.Is(err, ErrNotExist) {
		t.Fatalf("plain store without original: %v, want ErrNotExist", err)
	}
	_ = plain.Close()
	d, err := Open(dir, Options{Detached: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PutRendition(ctx, id, key, []byte("{}"), []byte("payload")); err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	d, err = Open(dir, Options{Detached: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r, err := d.OpenRendition(ctx, id, key)
	if err != nil {
		t.Fatalf("rendition lost on reopen: %v", err)
	}
	b, _ := io.ReadAll(r)
	_ = r.Close()
	if string(b) != "payload" {
		t.Fatalf("got %q", b)
	}
	if err := d.DropRenditions(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := d.OpenRendition(ctx, id, key); !errors.Is(err, ErrNotExist) {
		t.Fatalf("after DropRenditions: %v", err)
	}
	if st := d.Stats(); st.Renditions != 0 || st.RenditionBytes != 0 {
		t.Fatalf("stats after drop: %+v", st)
	}
}
