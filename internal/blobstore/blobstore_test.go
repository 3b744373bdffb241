package blobstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"
)

func idOf(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// buckets returns a memblob and a fileblob bucket.
func buckets(t *testing.T) map[string]*blob.Bucket {
	t.Helper()
	fb, err := fileblob.OpenBucket(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	mb := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = fb.Close(); _ = mb.Close() })
	return map[string]*blob.Bucket{"mem": mb, "file": fb}
}

func TestRoundTripAndDelete(t *testing.T) {
	ctx := context.Background()
	for name, b := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			s := New(b, Options{})
			data := []byte("original bytes")
			id := idOf(data)
			key := strings.Repeat("c", 64)
			created, err := s.PutOriginal(ctx, id, data, []byte(`{"m":1}`))
			if err != nil || !created {
				t.Fatalf("put: %v %v", created, err)
			}
			created, err = s.PutOriginal(ctx, id, data, []byte(`{"m":1}`))
			if err != nil || created {
				t.Fatalf("second put: created=%v err=%v", created, err)
			}
			if _, err := s.PutOriginal(ctx, strings.Repeat("0", 64), data, nil); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("put under a wrong id: %v", err)
			}
			got, err := s.Original(ctx, id, 1<<20)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("original: %q %v", got, err)
			}
			m, err := s.Meta(ctx, id)
			if err != nil || string(m) != `{"m":1}` {
				t.Fatalf("meta: %q %v", m, err)
			}
			if err := s.PutRendition(ctx, id, key, []byte("rm"), []byte("payload")); err != nil {
				t.Fatal(err)
			}
			rm, p, err := s.Rendition(ctx, id, key, 100)
			if err != nil || string(rm) != "rm" || string(p) != "payload" {
				t.Fatalf("rendition: %q %q %v", rm, p, err)
			}
			if _, _, err := s.Rendition(ctx, id, key, 3); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("rendition over its bound: %v", err)
			}
			if err := s.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{originalKey(id), metaKey(id), renditionKey(id, key)} {
				if ok, _ := b.Exists(ctx, k); ok {
					t.Fatalf("%s survived Delete", k)
				}
			}
			if _, err := s.Original(ctx, id, 1<<20); !errors.Is(err, ErrNotExist) {
				t.Fatalf("original after delete: %v", err)
			}
			if _, _, err := s.Rendition(ctx, id, key, 100); !errors.Is(err, ErrNotExist) {
				t.Fatalf("rendition after delete: %v", err)
			}
			if err := s.Delete(ctx, id); !errors.Is(err, ErrNotExist) {
				t.Fatalf("second delete: %v", err)
			}
		})
	}
}

// TestDamagedObjects: corrupted, truncated and oversized objects are reported, never returned.
func TestDamagedObjects(t *testing.T) {
	ctx := context.Background()
	for name, b := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			s := New(b, Options{})
			data := []byte("the original")
			id := idOf(data)
			key := strings.Repeat("d", 64)
			if _, err := s.PutOriginal(ctx, id, data, []byte("{}")); err != nil {
				t.Fatal(err)
			}
			if err := s.PutRendition(ctx, id, key, []byte("m"), []byte("rendered payload")); err != nil {
				t.Fatal(err)
			}
			obj, _ := b.ReadAll(ctx, renditionKey(id, key))
			flip := bytes.Clone(obj)
			flip[len(flip)-1] ^= 1
			cases := []struct {
				what, key string
				obj       []byte
				read      func() error
				want      error
			}{
				{"original flipped", originalKey(id), []byte("the originaL"), func() error { _, err := s.Original(ctx, id, 100); return err }, ErrCorrupt},
				{"original truncated", originalKey(id), data[:5], func() error { _, err := s.Original(ctx, id, 100); return err }, ErrCorrupt},
				{"original huge", originalKey(id), make([]byte, 1<<20), func() error { _, err := s.Original(ctx, id, 100); return err }, ErrTooLarge},
				{"rendition flipped", renditionKey(id, key), flip, func() error { _, _, err := s.Rendition(ctx, id, key, 100); return err }, ErrCorrupt},
				{"rendition truncated", renditionKey(id, key), obj[:len(obj)-3], func() error { _, _, err := s.Rendition(ctx, id, key, 100); return err }, ErrCorrupt},
				{"rendition header only", renditionKey(id, key), obj[:10], func() error { _, _, err := s.Rendition(ctx, id, key, 100); return err }, ErrCorrupt},
				{"rendition huge", renditionKey(id, key), make([]byte, 1<<20), func() error { _, _, err := s.Rendition(ctx, id, key, 100); return err }, ErrTooLarge},
				{"meta flipped", metaKey(id), append(frame([]byte("{}"))[:hdrLen], "{]"...), func() error { _, err := s.Meta(ctx, id); return err }, ErrCorrupt},
			}
			for _, c := range cases {
				if err := b.WriteAll(ctx, c.key, c.obj, nil); err != nil {
					t.Fatal(err)
				}
				if err := c.read(); !errors.Is(err, c.want) {
					t.Errorf("%s: %v, want %v", c.what, err, c.want)
				} else if strings.Contains(err.Error(), id) {
					t.Errorf("%s: error echoes the key: %v", c.what, err)
				}
			}
		})
	}
}

// TestTransientRetried: a bucket failing twice then recovering is retried; one that keeps
// failing gives ErrUnavailable after exactly Attempts tries; a done ctx stops the retries.
func TestTransientRetried(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	var calls, failFirst atomic.Int64
	s := New(b, Options{Attempts: 4, Backoff: time.Millisecond, Faults: func(op string) error {
		if calls.Add(1) <= failFirst.Load() {
			return errors.New("connection reset")
		}
		return nil
	}})
	data := []byte("x")
	id := idOf(data)
	failFirst.Store(2)
	if _, err := s.PutOriginal(ctx, id, data, []byte("{}")); err != nil {
		t.Fatalf("two transient failures not retried: %v", err)
	}
	calls.Store(0)
	failFirst.Store(1 << 40)
	_, err := s.Original(ctx, id, 10)
	if !errors.Is(err, ErrUnavailable) || calls.Load() != 4 {
		t.Fatalf("persistent failure: %v after %d calls, want ErrUnavailable after 4", err, calls.Load())
	}
	s = New(b, Options{Attempts: 1000, Backoff: time.Hour, Faults: func(string) error { return errors.New("down") }})
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := s.Original(cctx, id, 10); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("ctx: %v", err)
		}
	case <-time.After(time.Minute): // hang guard only
		t.Fatal("retries ignored the ctx")
	}
}

func TestInvalidKeys(t *testing.T) {
	s := New(memblob.OpenBucket(nil), Options{})
	for _, k := range []string{"", "../x", strings.Repeat("A", 64), strings.Repeat("a", 63) + "/"} {
		if _, err := s.Original(context.Background(), k, 10); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%q: %v", k, err)
		}
	}
}

// TestReadIsBounded: an object far over the read's cap is refused having read (and
// allocated) about as much as the cap, not the object.
func TestReadIsBounded(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	s := New(b, Options{})
	id, key := strings.Repeat("e", 64), strings.Repeat("f", 64)
	huge := make([]byte, 64<<20)
	require := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	require(b.WriteAll(ctx, originalKey(id), huge, nil))
	require(b.WriteAll(ctx, renditionKey(id, key), huge, nil))
	for name, read := range map[string]func() error{
		"original":  func() error { _, err := s.Original(ctx, id, 1<<10); return err },
		"rendition": func() error { _, _, err := s.Rendition(ctx, id, key, 1<<10); return err },
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := read()
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %v, want ErrTooLarge", name, err)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
			t.Errorf("%s: allocated %d bytes reading past a 1 KiB cap", name, got)
		}
	}
}
