package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ---- helpers ----

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func hexID(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func keyN(i int) string { return hexID(fmt.Appendf(nil, "key-%d", i)) }

func payloadN(i, n int) []byte {
	p := make([]byte, n)
	for j := range p {
		p[j] = byte(i*31 + j*7)
	}
	return p
}

// rsize is the on-disk size of a rendition.
func rsize(meta, payload int) int64 { return int64(prefixLen + meta + trailerLen + payload) }

func openStore(t testing.TB, dir string, opt Options) *Disk {
	t.Helper()
	d, err := Open(dir, opt)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// putOrig stores data as an original and returns its id.
func putOrig(t testing.TB, d *Disk, data, meta []byte) string {
	t.Helper()
	id := hexID(data)
	_, err := d.PutOriginal(context.Background(), id, data, meta)
	require.NoError(t, err)
	return id
}

func readAll(t testing.TB, r *Rendition) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return b
}

func dirEntries(t testing.TB, path string) []string {
	t.Helper()
	ents, err := os.ReadDir(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func fileOf(dir string, rel string) string { return filepath.Join(dir, filepath.FromSlash(rel)) }

var ctx = context.Background()

// ---- originals ----

func TestOriginalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	data := []byte("hello original")
	id := hexID(data)

	created, err := d.PutOriginal(ctx, id, data, []byte(`{"m":1}`))
	require.NoError(t, err)
	assert.True(t, created)

	created, err = d.PutOriginal(ctx, id, data, []byte(`{"m":2}`))
	require.NoError(t, err)
	assert.False(t, created, "second put must not create")

	got, err := d.Original(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, data, got)

	meta, err := d.OriginalMeta(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, []byte(`{"m":1}`), meta, "existing original's meta is not rewritten")

	st := d.Stats()
	assert.Equal(t, 1, st.Originals)
	assert.Equal(t, int64(len(data)), st.OriginalBytes)

	assert.FileExists(t, fileOf(dir, originalPath(id)))
	assert.FileExists(t, fileOf(dir, metaPath(id)))
	assert.Empty(t, dirEntries(t, fileOf(dir, "tmp")), "no temp files left behind")
}

func TestOriginalMissing(t *testing.T) {
	d := openStore(t, t.TempDir(), Options{})
	id := hexID([]byte("nope"))
	_, err := d.Original(ctx, id)
	assert.ErrorIs(t, err, ErrNotExist)
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = d.OriginalMeta(ctx, id)
	assert.ErrorIs(t, err, ErrNotExist)
	assert.ErrorIs(t, d.Delete(ctx, id), ErrNotExist)
	_, err = d.OpenRendition(ctx, id, keyN(1))
	assert.ErrorIs(t, err, ErrNotExist)
}

func TestPutOriginalRejectsWrongDigest(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	id := hexID([]byte("something else"))
	created, err := d.PutOriginal(ctx, id, []byte("data"), nil)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.False(t, created)
	assert.NoFileExists(t, fileOf(dir, originalPath(id)))
	assert.Equal(t, 0, d.Stats().Originals)
}

func TestPutOriginalRepairsMissingMeta(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	id := putOrig(t, d, []byte("repair me"), []byte("m1"))
	require.NoError(t, os.Remove(fileOf(dir, metaPath(id))))

	_, err := d.OriginalMeta(ctx, id)
	assert.ErrorIs(t, err, ErrNotExist)

	created, err := d.PutOriginal(ctx, id, []byte("repair me"), []byte("m2"))
	require.NoError(t, err)
	assert.False(t, created)
	meta, err := d.OriginalMeta(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, []byte("m2"), meta)
	assert.Equal(t, 1, d.Stats().Originals)
	assert.Empty(t, dirEntries(t, fileOf(dir, "tmp")))
}

func TestOriginalDetectsCorruption(t *testing.T) {
	dir := t.TempDir()
	logs := &syncBuffer{}
	d := openStore(t, dir, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	data := bytes.Repeat([]byte("original bytes "), 100)
	id := putOrig(t, d, data, []byte("meta"))
	require.NoError(t, d.PutRendition(ctx, id, keyN(1), nil, []byte("r")))

	// Flip one byte on disk.
	p := fileOf(dir, originalPath(id))
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	raw[len(raw)/2] ^= 0x01
	require.NoError(t, os.WriteFile(p, raw, 0o640))

	_, err = d.Original(ctx, id)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.NotContains(t, err.Error(), dir)

	q := dirEntries(t, fileOf(dir, "quarantine"))
	require.Len(t, q, 1)
	assert.True(t, strings.HasPrefix(q[0], id+".img."))
	assert.NoFileExists(t, p)

	_, err = d.Original(ctx, id)
	assert.ErrorIs(t, err, ErrNotExist)
	_, err = d.OriginalMeta(ctx, id)
	assert.ErrorIs(t, err, ErrNotExist)
	_, err = d.OpenRendition(ctx, id, keyN(1))
	assert.ErrorIs(t, err, ErrNotExist, "renditions go with their quarantined original")

	st := d.Stats()
	assert.Equal(t, int64(1), st.Quarantined)
	assert.Equal(t, 0, st.Originals)
	assert.Equal(t, int64(0), st.OriginalBytes)
	assert.Equal(t, 0, st.Renditions)

	out := logs.String()
	assert.Contains(t, out, "level=ERROR")
	assert.Contains(t, out, "id="+id[:12])
	assert.Contains(t, out, "reason=\"digest mismatch\"")
	assert.NotContains(t, out, dir)
	assert.NotContains(t, out, id, "only the id prefix is logged")
}

// ---- validation, context, close ----

func TestInvalidKeys(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	good := putOrig(t, d, []byte("valid"), nil)
	goodKey := keyN(0)
	require.NoError(t, d.PutRendition(ctx, good, goodKey, nil, []byte("p")))

	bad := map[string]string{
		"dotdot":        "../x",
		"dotdot-padded": "../" + good[3:],
		"uppercase":     strings.ToUpper(good),
		"63 chars":      good[:63],
		"65 chars":      good + "0",
		"empty":         "",
		"slash":         good[:10] + "/" + good[11:],
		"backslash":     good[:10] + "\\" + good[11:],
		"nul":           good[:10] + "\x00" + good[11:],
		"non-hex":       strings.Repeat("g", 64),
		"dot":           ".",
		"absolute":      "/" + good[1:],
	}
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := d.PutOriginal(ctx, b, []byte("x"), nil)
			assert.ErrorIs(t, err, ErrInvalidKey, "PutOriginal")
			_, err = d.Original(ctx, b)
			assert.ErrorIs(t, err, ErrInvalidKey, "Original")
			_, err = d.OriginalMeta(ctx, b)
			assert.ErrorIs(t, err, ErrInvalidKey, "OriginalMeta")
			assert.ErrorIs(t, d.Delete(ctx, b), ErrInvalidKey, "Delete")
			assert.ErrorIs(t, d.PutRendition(ctx, b, goodKey, nil, []byte("p")), ErrInvalidKey, "PutRendition id")
			assert.ErrorIs(t, d.PutRendition(ctx, good, b, nil, []byte("p")), ErrInvalidKey, "PutRendition key")
			_, err = d.OpenRendition(ctx, b, goodKey)
			assert.ErrorIs(t, err, ErrInvalidKey, "OpenRendition id")
			_, err = d.OpenRendition(ctx, good, b)
			assert.ErrorIs(t, err, ErrInvalidKey, "OpenRendition key")
		})
	}
	// Nothing was touched.
	st := d.Stats()
	assert.Equal(t, 1, st.Originals)
	assert.Equal(t, 1, st.Renditions)
	r, err := d.OpenRendition(ctx, good, goodKey)
	require.NoError(t, err)
	require.NoError(t, r.Close())
}

func TestContextCanceled(t *testing.T) {
	d := openStore(t, t.TempDir(), Options{})
	id := putOrig(t, d, []byte("ctx"), nil)
	c, cancel := context.WithCancel(ctx)
	cancel()
	_, err := d.PutOriginal(c, id, []byte("ctx"), nil)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = d.Original(c, id)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = d.OriginalMeta(c, id)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, d.PutRendition(c, id, keyN(1), nil, nil), context.Canceled)
	_, err = d.OpenRendition(c, id, keyN(1))
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, d.Delete(c, id), context.Canceled)
	assert.Equal(t, 1, d.Stats().Originals)
}

func TestClosed(t *testing.T) {
	d, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	id := putOrig(t, d, []byte("closed"), nil)
	require.NoError(t, d.PutRendition(ctx, id, keyN(1), nil, []byte("p")))
	r, err := d.OpenRendition(ctx, id, keyN(1))
	require.NoError(t, err)

	require.NoError(t, d.Close())
	assert.ErrorIs(t, d.Close(), ErrClosed)
	_, err = d.PutOriginal(ctx, id, []byte("closed"), nil)
	assert.ErrorIs(t, err, ErrClosed)
	_, err = d.Original(ctx, id)
	assert.ErrorIs(t, err, ErrClosed)
	_, err = d.OriginalMeta(ctx, id)
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, d.PutRendition(ctx, id, keyN(1), nil, nil), ErrClosed)
	_, err = d.OpenRendition(ctx, id, keyN(1))
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, d.Delete(ctx, id), ErrClosed)

	// A rendition handed out before Close stays readable.
	assert.Equal(t, []byte("p"), readAll(t, r))
	require.NoError(t, r.Close())
}

// ---- Open: recovery and reopen ----

func TestOpenRemovesStaleTmpAndOrphans(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	keep := putOrig(t, d, []byte("keep"), []byte("keep-meta"))
	require.NoError(t, d.PutRendition(ctx, keep, keyN(1), nil, []byte("keep-r")))
	require.NoError(t, d.Close())

	// A crash left: temp files, a meta without original, renditions
	// without original.
	require.NoError(t, os.WriteFile(fileOf(dir, "tmp/0123abcd.tmp"), []byte("partial"), 0o640))
	require.NoError(t, os.MkdirAll(fileOf(dir, "tmp/sub"), 0o750))
	gone := hexID([]byte("gone"))
	require.NoError(t, os.MkdirAll(fileOf(dir, originalDir(gone)), 0o750))
	require.NoError(t, os.WriteFile(fileOf(dir, metaPath(gone)), []byte("orphan"), 0o640))
	require.NoError(t, os.MkdirAll(fileOf(dir, renditionDir(gone)), 0o750))
	hdr, _ := encodeHeader(nil, []byte("x"))
	require.NoError(t, os.WriteFile(fileOf(dir, renditionPath(gone, keyN(1))), append(hdr, 'x'), 0o640))

	d = openStore(t, dir, Options{})
	assert.Empty(t, dirEntries(t, fileOf(dir, "tmp")))
	assert.NoFileExists(t, fileOf(dir, metaPath(gone)))
	assert.NoDirExists(t, fileOf(dir, renditionDir(gone)))
	assert.FileExists(t, fileOf(dir, metaPath(keep)))

	st := d.Stats()
	assert.Equal(t, 1, st.Originals)
	assert.Equal(t, 1, st.Renditions)
	meta, err := d.OriginalMeta(ctx, keep)
	require.NoError(t, err)
	assert.Equal(t, []byte("keep-meta"), meta)
	_, err = d.OpenRendition(ctx, gone, keyN(1))
	assert.ErrorIs(t, err, ErrNotExist)
}

func TestOpenCreatesLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "store")
	d := openStore(t, dir, Options{})
	for _, sub := range []string{"o", "r", "tmp", "quarantine"} {
		assert.DirExists(t, filepath.Join(dir, sub))
	}
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.True(t, fi.IsDir())
	assert.Equal(t, Stats{}, d.Stats())
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	var ids []string
	for i := range 5 {
		id := putOrig(t, d, fmt.Appendf(nil, "orig-%d-%s", i, strings.Repeat("z", i*100)), []byte("m"))
		ids = append(ids, id)
		for k := range i {
			require.NoError(t, d.PutRendition(ctx, id, keyN(k), []byte("rm"), payloadN(k, 50+k*10)))
		}
	}
	before := d.Stats()
	require.Equal(t, 5, before.Originals)
	require.Equal(t, 10, before.Renditions)
	require.NoError(t, d.Close())

	d = openStore(t, dir, Options{})
	after := d.Stats()
	assert.Equal(t, before, after)
	for i, id := range ids {
		_, err := d.Original(ctx, id)
		require.NoError(t, err)
		for k := range i {
			r, err := d.OpenRendition(ctx, id, keyN(k))
			require.NoError(t, err)
			assert.Equal(t, payloadN(k, 50+k*10), readAll(t, r))
			assert.Equal(t, []byte("rm"), r.Meta)
			require.NoError(t, r.Close())
		}
	}
}

// ---- renditions ----

func TestRenditionRoundTrip(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	d := openStore(t, dir, Options{Now: clk.Now})
	id := putOrig(t, d, []byte("orig"), nil)
	key := keyN(7)
	meta := []byte(`{"w":100,"h":50,"type":"image/webp"}`)
	payload := payloadN(3, 1000)

	require.NoError(t, d.PutRendition(ctx, id, key, meta, payload))
	r, err := d.OpenRendition(ctx, id, key)
	require.NoError(t, err)
	defer func() { _ = r.Close() }()

	assert.Equal(t, meta, r.Meta)
	assert.Equal(t, int64(len(payload)), r.Size)
	assert.Equal(t, sha256.Sum256(payload), r.Digest)
	assert.True(t, r.ModTime.Equal(clk.Now()), "mtime comes from the injected clock")
	assert.Equal(t, payload, readAll(t, r))

	// Seek works and is relative to the payload.
	pos, err := r.Seek(100, io.SeekStart)
	require.NoError(t, err)
	assert.Equal(t, int64(100), pos)
	buf := make([]byte, 10)
	_, err = io.ReadFull(r, buf)
	require.NoError(t, err)
	assert.Equal(t, payload[100:110], buf)
	pos, err = r.Seek(-5, io.SeekEnd)
	require.NoError(t, err)
	assert.Equal(t, int64(995), pos)
	assert.Equal(t, payload[995:], readAll(t, r))
	_, err = r.Seek(0, io.SeekStart)
	require.NoError(t, err)
	assert.Equal(t, payload, readAll(t, r))

	st := d.Stats()
	assert.Equal(t, 1, st.Renditions)
	assert.Equal(t, rsize(len(meta), len(payload)), st.RenditionBytes)
	fi, err := os.Stat(fileOf(dir, renditionPath(id, key)))
	require.NoError(t, err)
	assert.Equal(t, st.RenditionBytes, fi.Size())
	assert.Empty(t, dirEntries(t, fileOf(dir, "tmp")))
}

func TestRenditionEmptyPayloadAndMeta(t *testing.T) {
	d := openStore(t, t.TempDir(), Options{})
	id := putOrig(t, d, []byte("orig"), nil)
	require.NoError(t, d.PutRendition(ctx, id, keyN(1), nil, nil))
	r, err := d.OpenRendition(ctx, id, keyN(1))
	require.NoError(t, err)
	assert.Empty(t, r.Meta)
	assert.Equal(t, int64(0), r.Size)
	assert.Empty(t, readAll(t, r))
	assert.Equal(t, sha256.Sum256(nil), r.Digest)
	require.NoError(t, r.Close())
}

func TestLargeRendition(t *testing.T) {
	// Larger than the first read: the header and the payload's head come
	// from one read, the rest is streamed.
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	id := putOrig(t, d, []byte("orig"), nil)
	key := keyN(1)
	meta := bytes.Repeat([]byte("m"), MaxRenditionMeta)
	payload := payloadN(5, 3*readBufSize+17)
	require.NoError(t, d.PutRendition(ctx, id, key, meta, payload))
	r, err := d.OpenRendition(ctx, id, key)
	require.NoError(t, err)
	assert.Equal(t, meta, r.Meta)
	assert.Equal(t, int64(len(payload)), r.Size)
	assert.Equal(t, payload, readAll(t, r))
	_, err = r.Seek(-100, io.SeekEnd)
	require.NoError(t, err)
	assert.Equal(t, payload[len(payload)-100:], readAll(t, r))
	require.NoError(t, r.Close())

	p := fileOf(dir, renditionPath(id, key))
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	raw[len(raw)-readBufSize/2] ^= 0x10
	require.NoError(t, os.WriteFile(p, raw, 0o640))
	_, err = d.OpenRendition(ctx, id, key)
	require.ErrorIs(t, err, ErrNotExist)
	assert.Equal(t, int64(1), d.Stats().Quarantined)
}

func TestOpenIgnoresForeignEntries(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	id := putOrig(t, d, []byte("orig"), nil)
	require.NoError(t, d.PutRendition(ctx, id, keyN(1), nil, []byte("p")))
	before := d.Stats()
	require.NoError(t, d.Close())

	foreign := []string{
		"o/README",
		"o/zz/x",
		originalDir(id) + "/notes.txt",
		originalDir(id) + "/" + strings.ToUpper(id) + ".img",
		"r/README",
		renditionShard(id) + "/junk",
		renditionDir(id) + "/" + keyN(2) + ".tmp",
		renditionDir(id) + "/short.rnd",
	}
	for _, f := range foreign {
		require.NoError(t, os.MkdirAll(filepath.Dir(fileOf(dir, f)), 0o750))
		require.NoError(t, os.WriteFile(fileOf(dir, f), []byte("foreign"), 0o640))
	}
	// A key-named directory is not a rendition either.
	require.NoError(t, os.Mkdir(fileOf(dir, renditionPath(id, keyN(3))), 0o750))

	logs := &syncBuffer{}
	d = openStore(t, dir, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	assert.Equal(t, before, d.Stats())
	for _, f := range foreign {
		assert.FileExists(t, fileOf(dir, f), "foreign files are left alone")
	}
	assert.Contains(t, logs.String(), "unexpected entries")
	assert.NotContains(t, logs.String(), dir)
}

func TestRenditionMetaTooLarge(t *testing.T) {
	d := openStore(t, t.TempDir(), Options{})
	id := putOrig(t, d, []byte("orig"), nil)
	err := d.PutRendition(ctx, id, keyN(1), make([]byte, MaxRenditionMeta+1), nil)
	require.Error(t, err)
	require.NoError(t, d.PutRendition(ctx, id, keyN(1), make([]byte, MaxRenditionMeta), nil))
	r, err := d.OpenRendition(ctx, id, keyN(1))
	require.NoError(t, err)
	assert.Len(t, r.Meta, MaxRenditionMeta)
	require.NoError(t, r.Close())
}

func TestRenditionReplaceKeepsSizes(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{MaxRenditionBytes: 10_000})
	id := putOrig(t, d, []byte("orig"), nil)
	key := keyN(1)
	require.NoError(t, d.PutRendition(ctx, id, key, []byte("a"), payloadN(1, 100)))
	require.NoError(t, d.PutRendition(ctx, id, keyN(2), nil, payloadN(2, 10)))
	require.NoError(t, d.PutRendition(ctx, id, key, []byte("bb"), payloadN(2, 300)))

	want := rsize(2, 300) + rsize(0, 10)
	st := d.Stats()
	assert.Equal(t, 2, st.Renditions)
	assert.Equal(t, want, st.RenditionBytes)
	assert.Equal(t, int64(0), st.Evictions)

	r, err := d.OpenRendition(ctx, id, key)
	require.NoError(t, err)
	assert.Equal(t, payloadN(2, 300), readAll(t, r))
	assert.Equal(t, []byte("bb"), r.Meta)
	require.NoError(t, r.Close())

	require.NoError(t, d.Close())
	d = openStore(t, dir, Options{MaxRenditionBytes: 10_000})
	st = d.Stats()
	assert.Equal(t, 2, st.Renditions)
	assert.Equal(t, want, st.RenditionBytes)
}

func TestCorruptRenditionQuarantined(t *testing.T) {
	cases := map[string]func(raw []byte) []byte{
		"payload bit flip": func(raw []byte) []byte { raw[len(raw)-1] ^= 0x80; return raw },
		"digest bit flip":  func(raw []byte) []byte { raw[prefixLen+4] ^= 0x01; return raw },
		"bad magic":        func(raw []byte) []byte { raw[0] = 'X'; return raw },
		"bad version":      func(raw []byte) []byte { raw[4] = 2; return raw },
		"huge meta length": func(raw []byte) []byte { raw[5], raw[6] = 0xff, 0xff; return raw },
		"meta length past end": func(raw []byte) []byte {
			raw[5], raw[6], raw[7], raw[8] = 0, 0, 0x0f, 0xff
			return raw
		},
		"payload length lies": func(raw []byte) []byte { raw[prefixLen+4+sha256.Size+7]++; return raw },
		"trailing garbage":    func(raw []byte) []byte { return append(raw, 0) },
		"truncated payload":   func(raw []byte) []byte { return raw[:len(raw)-10] },
		"truncated header":    func(raw []byte) []byte { return raw[:prefixLen+2] },
		"truncated to 3":      func(raw []byte) []byte { return raw[:3] },
		"empty":               func(raw []byte) []byte { return nil },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			logs := &syncBuffer{}
			d := openStore(t, dir, Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
			id := putOrig(t, d, []byte("orig"), nil)
			key := keyN(1)
			require.NoError(t, d.PutRendition(ctx, id, key, []byte("meta"), payloadN(1, 200)))

			p := fileOf(dir, renditionPath(id, key))
			raw, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, mutate(raw), 0o640))

			_, err = d.OpenRendition(ctx, id, key)
			require.ErrorIs(t, err, ErrNotExist)
			assert.NotContains(t, err.Error(), dir)
			assert.NoFileExists(t, p)
			q := dirEntries(t, fileOf(dir, "quarantine"))
			require.Len(t, q, 1)
			assert.True(t, strings.HasPrefix(q[0], id+"-"+key+".rnd."))

			st := d.Stats()
			assert.Equal(t, int64(1), st.Quarantined)
			assert.Equal(t, 0, st.Renditions)
			assert.Equal(t, int64(0), st.RenditionBytes)

			_, err = d.OpenRendition(ctx, id, key)
			assert.ErrorIs(t, err, ErrNotExist)
			assert.Equal(t, int64(1), d.Stats().Quarantined)

			out := logs.String()
			assert.Contains(t, out, `"level":"ERROR"`)
			assert.Contains(t, out, `"id":"`+id[:12]+`"`)
			assert.Contains(t, out, `"reason":`)
			assert.NotContains(t, out, dir)

			// The caller re-renders.
			require.NoError(t, d.PutRendition(ctx, id, key, []byte("meta"), payloadN(1, 200)))
			r, err := d.OpenRendition(ctx, id, key)
			require.NoError(t, err)
			assert.Equal(t, payloadN(1, 200), readAll(t, r))
			require.NoError(t, r.Close())
		})
	}
}

func TestRenditionReplacedByDirectoryIsAMiss(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	id := putOrig(t, d, []byte("orig"), nil)
	key := keyN(1)
	require.NoError(t, d.PutRendition(ctx, id, key, nil, []byte("p")))
	p := fileOf(dir, renditionPath(id, key))
	require.NoError(t, os.Remove(p))
	require.NoError(t, os.Mkdir(p, 0o750))
	_, err := d.OpenRendition(ctx, id, key)
	require.ErrorIs(t, err, ErrNotExist)
	assert.NoDirExists(t, p)
}

// ---- LRU ----

func TestLRUEviction(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	const n = 100
	one := rsize(0, n)
	quota := 3 * one
	d := openStore(t, dir, Options{MaxRenditionBytes: quota, Now: clk.Now})
	orig := putOrig(t, d, []byte("orig"), nil)
	other := putOrig(t, d, []byte("other"), nil)

	put := func(id string, k int) {
		t.Helper()
		clk.Advance(time.Minute)
		require.NoError(t, d.PutRendition(ctx, id, keyN(k), nil, payloadN(k, n)))
		assert.LessOrEqual(t, d.Stats().RenditionBytes, quota)
	}
	has := func(id string, k int) bool {
		t.Helper()
		clk.Advance(time.Second)
		r, err := d.OpenRendition(ctx, id, keyN(k))
		if errors.Is(err, ErrNotExist) {
			return false
		}
		require.NoError(t, err)
		require.NoError(t, r.Close())
		return true
	}

	put(orig, 1)
	put(orig, 2)
	put(other, 3)
	// Refresh 1: now 2 is the least recently used.
	clk.Advance(time.Minute)
	r, err := d.OpenRendition(ctx, orig, keyN(1))
	require.NoError(t, err)
	require.NoError(t, r.Close())

	put(other, 4)
	assert.Equal(t, int64(1), d.Stats().Evictions)
	assert.NoFileExists(t, fileOf(dir, renditionPath(orig, keyN(2))))
	_, err = d.OpenRendition(ctx, orig, keyN(2))
	assert.ErrorIs(t, err, ErrNotExist)
	// Survivors (checking refreshes them in order 1, 3, 4).
	assert.True(t, has(orig, 1))
	assert.True(t, has(other, 3))
	assert.True(t, has(other, 4))

	// 1 is now the least recently used.
	put(orig, 5)
	assert.False(t, has(orig, 1))
	for k := 6; k < 30; k++ {
		put(orig, k)
	}
	st := d.Stats()
	assert.Equal(t, 3, st.Renditions)
	assert.Equal(t, quota, st.RenditionBytes)
	assert.Equal(t, int64(29-3), st.Evictions)

	// Originals are never evicted.
	assert.Equal(t, 2, st.Originals)
	for _, id := range []string{orig, other} {
		_, err := d.Original(ctx, id)
		assert.NoError(t, err)
	}
	// Only the three newest remain on disk.
	assert.Len(t, dirEntries(t, fileOf(dir, renditionDir(orig))), 3)
	assert.Empty(t, dirEntries(t, fileOf(dir, renditionDir(other))))
}

func TestOversizedRenditionEvictedImmediately(t *testing.T) {
	d := openStore(t, t.TempDir(), Options{MaxRenditionBytes: 100})
	id := putOrig(t, d, []byte("orig"), nil)
	require.NoError(t, d.PutRendition(ctx, id, keyN(1), nil, payloadN(1, 500)))
	st := d.Stats()
	assert.Equal(t, 0, st.Renditions)
	assert.Equal(t, int64(0), st.RenditionBytes)
	assert.Equal(t, int64(1), st.Evictions)
	assert.Equal(t, 1, st.Originals)
	_, err := d.OpenRendition(ctx, id, keyN(1))
	assert.ErrorIs(t, err, ErrNotExist)
}

func TestOriginalsNeverEvicted(t *testing.T) {
	d := openStore(t, t.TempDir(), Options{MaxRenditionBytes: 1})
	var ids []string
	for i := range 20 {
		ids = append(ids, putOrig(t, d, payloadN(i, 5000), nil))
		require.NoError(t, d.PutRendition(ctx, ids[i], keyN(i), nil, payloadN(i, 10)))
	}
	st := d.Stats()
	assert.Equal(t, 20, st.Originals)
	assert.Equal(t, int64(20*5000), st.OriginalBytes)
	assert.Equal(t, 0, st.Renditions)
	for i, id := range ids {
		got, err := d.Original(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, payloadN(i, 5000), got)
	}
}

func TestOpenRenditionSurvivesEviction(t *testing.T) {
	dir := t.TempDir()
	const n = 4000
	d := openStore(t, dir, Options{MaxRenditionBytes: rsize(0, n)})
	id := putOrig(t, d, []byte("orig"), nil)
	require.NoError(t, d.PutRendition(ctx, id, keyN(1), nil, payloadN(1, n)))
	r, err := d.OpenRendition(ctx, id, keyN(1))
	require.NoError(t, err)
	defer func() { _ = r.Close() }()

	require.NoError(t, d.PutRendition(ctx, id, keyN(2), nil, payloadN(2, n)))
	assert.Equal(t, int64(1), d.Stats().Evictions)
	assert.NoFileExists(t, fileOf(dir, renditionPath(id, keyN(1))))

	assert.Equal(t, payloadN(1, n), readAll(t, r))
	_, err = r.Seek(0, io.SeekStart)
	require.NoError(t, err)
	assert.Equal(t, payloadN(1, n), readAll(t, r))

	// A rendition open while its original is deleted stays readable too.
	r2, err := d.OpenRendition(ctx, id, keyN(2))
	require.NoError(t, err)
	require.NoError(t, d.Delete(ctx, id))
	assert.Equal(t, payloadN(2, n), readAll(t, r2))
	require.NoError(t, r2.Close())
}

func TestTouchAtMostHourly(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	d := openStore(t, dir, Options{Now: clk.Now})
	id := putOrig(t, d, []byte("orig"), nil)
	key := keyN(1)
	t0 := clk.Now()
	require.NoError(t, d.PutRendition(ctx, id, key, nil, []byte("p")))
	p := fileOf(dir, renditionPath(id, key))
	mtime := func() time.Time {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		return fi.ModTime()
	}
	hit := func() {
		r, err := d.OpenRendition(ctx, id, key)
		require.NoError(t, err)
		require.NoError(t, r.Close())
	}
	assert.True(t, mtime().Equal(t0))

	clk.Advance(30 * time.Minute)
	hit()
	assert.True(t, mtime().Equal(t0), "no touch within the hour")

	clk.Advance(31 * time.Minute)
	t1 := clk.Now()
	hit()
	assert.True(t, mtime().Equal(t1), "touched after an hour")

	clk.Advance(59 * time.Minute)
	hit()
	assert.True(t, mtime().Equal(t1))
}

func TestLRUOrderSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	quota := 3 * rsize(0, 10)
	opt := Options{MaxRenditionBytes: quota, Now: clk.Now}
	d := openStore(t, dir, opt)
	id := putOrig(t, d, []byte("orig"), nil)
	for k := 1; k <= 3; k++ {
		clk.Advance(time.Minute)
		require.NoError(t, d.PutRendition(ctx, id, keyN(k), nil, payloadN(k, 10)))
	}
	clk.Advance(2 * time.Hour)
	r, err := d.OpenRendition(ctx, id, keyN(1)) // touches the file
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, d.Close())

	d = openStore(t, dir, opt)
	clk.Advance(time.Minute)
	require.NoError(t, d.PutRendition(ctx, id, keyN(4), nil, payloadN(4, 10)))
	for k, want := range map[int]bool{1: true, 2: false, 3: true, 4: true} {
		_, err := os.Stat(fileOf(dir, renditionPath(id, keyN(k))))
		assert.Equal(t, want, err == nil, "rendition %d", k)
	}
}

// TestMarkUsedOrderSurvivesReopen: a hit served by a cache in front of the store (MarkUsed)
// refreshes the file's mtime like an OpenRendition hit, so after a restart the hottest
// rendition is not the first evicted.
func TestMarkUsedOrderSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	quota := 3 * rsize(0, 10)
	opt := Options{MaxRenditionBytes: quota, Now: clk.Now}
	d := openStore(t, dir, opt)
	id := putOrig(t, d, []byte("orig"), nil)
	for k := 1; k <= 3; k++ {
		clk.Advance(time.Minute)
		require.NoError(t, d.PutRendition(ctx, id, keyN(k), nil, payloadN(k, 10)))
	}
	clk.Advance(2 * time.Hour)
	d.MarkUsed(id, keyN(1)) // served from memory: touches the file
	fi, err := os.Stat(fileOf(dir, renditionPath(id, keyN(1))))
	require.NoError(t, err)
	assert.True(t, fi.ModTime().Equal(clk.Now()), "MarkUsed after an hour touches the file")
	d.MarkUsed(id, keyN(9))         // unknown: ignored
	d.MarkUsed("../x", "not a key") // invalid: ignored
	require.NoError(t, d.Close())
	d.MarkUsed(id, keyN(2)) // after Close: ignored, no panic

	d = openStore(t, dir, opt)
	clk.Advance(time.Minute)
	require.NoError(t, d.PutRendition(ctx, id, keyN(4), nil, payloadN(4, 10)))
	for k, want := range map[int]bool{1: true, 2: false, 3: true, 4: true} {
		_, err := os.Stat(fileOf(dir, renditionPath(id, keyN(k))))
		assert.Equal(t, want, err == nil, "rendition %d", k)
	}
}

func TestOpenEnforcesSmallerQuota(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	d := openStore(t, dir, Options{Now: clk.Now})
	id := putOrig(t, d, []byte("orig"), nil)
	for k := 1; k <= 5; k++ {
		clk.Advance(time.Minute)
		require.NoError(t, d.PutRendition(ctx, id, keyN(k), nil, payloadN(k, 10)))
	}
	require.NoError(t, d.Close())

	d = openStore(t, dir, Options{MaxRenditionBytes: 2 * rsize(0, 10), Now: clk.Now})
	st := d.Stats()
	assert.Equal(t, 2, st.Renditions)
	assert.Equal(t, int64(3), st.Evictions)
	for k := 1; k <= 5; k++ {
		_, err := os.Stat(fileOf(dir, renditionPath(id, keyN(k))))
		assert.Equal(t, k >= 4, err == nil, "rendition %d", k)
	}
}

// ---- delete ----

func TestDeleteRemovesRenditions(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	id := putOrig(t, d, []byte("orig"), []byte("m"))
	keep := putOrig(t, d, []byte("keep"), nil)
	for k := range 3 {
		require.NoError(t, d.PutRendition(ctx, id, keyN(k), nil, payloadN(k, 10)))
	}
	require.NoError(t, d.PutRendition(ctx, keep, keyN(9), nil, payloadN(9, 10)))

	require.NoError(t, d.Delete(ctx, id))
	assert.NoFileExists(t, fileOf(dir, originalPath(id)))
	assert.NoFileExists(t, fileOf(dir, metaPath(id)))
	assert.NoDirExists(t, fileOf(dir, renditionDir(id)))
	for k := range 3 {
		_, err := d.OpenRendition(ctx, id, keyN(k))
		assert.ErrorIs(t, err, ErrNotExist)
	}
	_, err := d.Original(ctx, id)
	assert.ErrorIs(t, err, ErrNotExist)
	assert.ErrorIs(t, d.Delete(ctx, id), ErrNotExist)

	st := d.Stats()
	assert.Equal(t, 1, st.Originals)
	assert.Equal(t, int64(4), st.OriginalBytes)
	assert.Equal(t, 1, st.Renditions)
	assert.Equal(t, rsize(0, 10), st.RenditionBytes)

	// Put again after delete works.
	created, err := d.PutOriginal(ctx, id, []byte("orig"), nil)
	require.NoError(t, err)
	assert.True(t, created)
}

func TestPutRenditionAfterDelete(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	id := putOrig(t, d, []byte("orig"), nil)
	require.NoError(t, d.Delete(ctx, id))
	err := d.PutRendition(ctx, id, keyN(1), nil, []byte("p"))
	require.ErrorIs(t, err, ErrNotExist)
	assert.NoDirExists(t, fileOf(dir, renditionDir(id)))
	assert.Empty(t, dirEntries(t, fileOf(dir, "tmp")))
	assert.Equal(t, 0, d.Stats().Renditions)

	// Never-stored original.
	err = d.PutRendition(ctx, hexID([]byte("never")), keyN(1), nil, []byte("p"))
	assert.ErrorIs(t, err, ErrNotExist)
}

func TestCommitRenditionRechecksOriginal(t *testing.T) {
	// The fast-path check passes, the original disappears, and the commit
	// (under the lock Delete takes) must refuse: drive commitRendition
	// directly to pin that window.
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	id := putOrig(t, d, []byte("orig"), nil)
	tmp, err := d.writeTemp("test", id, time.Time{}, []byte("x"))
	require.NoError(t, err)
	require.NoError(t, d.Delete(ctx, id))
	_, err = d.commitRendition(id, keyN(1), &tmp, 1, time.Now())
	require.ErrorIs(t, err, ErrNotExist)
	assert.NotEmpty(t, tmp, "temp file left for the caller's cleanup")
	d.removeTemp(tmp)
	assert.NoDirExists(t, fileOf(dir, renditionDir(id)))
	assert.Empty(t, dirEntries(t, fileOf(dir, "tmp")))
}

// ---- concurrency ----

func TestConcurrent(t *testing.T) {
	dir := t.TempDir()
	quota := 6 * rsize(4, 64)
	d := openStore(t, dir, Options{MaxRenditionBytes: quota})
	var origs [][]byte
	var ids []string
	for i := range 4 {
		origs = append(origs, fmt.Appendf(nil, "concurrent-original-%d", i))
		ids = append(ids, hexID(origs[i]))
	}
	const workers, ops = 8, 300
	var wg sync.WaitGroup
	errc := make(chan error, 2*workers*ops)
	var hits, puts atomic.Int64
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for range ops {
				i := rng.IntN(len(ids))
				id := ids[i]
				k := rng.IntN(8)
				var err error
				switch op := rng.IntN(10); {
				case op < 2:
					_, err = d.PutOriginal(ctx, id, origs[i], []byte("meta"))
				case op < 5:
					err = d.PutRendition(ctx, id, keyN(k), []byte("meta"), payloadN(k, 64))
					if err == nil {
						puts.Add(1)
					}
				case op < 9:
					var r *Rendition
					r, err = d.OpenRendition(ctx, id, keyN(k))
					if err == nil {
						hits.Add(1)
						b, rerr := io.ReadAll(r)
						if rerr == nil && !bytes.Equal(b, payloadN(k, 64)) {
							rerr = errors.New("payload mismatch")
						}
						_ = r.Close()
						err = rerr
					}
				default:
					err = d.Delete(ctx, id)
				}
				if err != nil && !errors.Is(err, ErrNotExist) {
					errc <- err
				}
				if st := d.Stats(); st.RenditionBytes > quota || st.RenditionBytes < 0 || st.Originals < 0 {
					errc <- fmt.Errorf("bad stats %+v", st)
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	assert.Positive(t, hits.Load(), "some reads hit")
	assert.Positive(t, puts.Load(), "some renditions were written")
	assert.Positive(t, d.Stats().Evictions, "the quota was exercised")
	t.Logf("hits=%d puts=%d stats=%+v", hits.Load(), puts.Load(), d.Stats())

	// The index matches the disk: no orphans, and a fresh Open agrees.
	before := d.Stats()
	for i, id := range ids {
		_, err := os.Stat(fileOf(dir, originalPath(id)))
		if err != nil {
			assert.NoDirExists(t, fileOf(dir, renditionDir(id)), "orphan renditions for %d", i)
			assert.NoFileExists(t, fileOf(dir, metaPath(id)), "orphan meta for %d", i)
		}
	}
	assert.Empty(t, dirEntries(t, fileOf(dir, "tmp")))
	require.NoError(t, d.Close())
	d = openStore(t, dir, Options{MaxRenditionBytes: quota})
	after := d.Stats()
	assert.Equal(t, before.Originals, after.Originals)
	assert.Equal(t, before.OriginalBytes, after.OriginalBytes)
	assert.Equal(t, before.Renditions, after.Renditions)
	assert.Equal(t, before.RenditionBytes, after.RenditionBytes)
	assert.Equal(t, int64(0), after.Evictions)
}

// ---- errors never leak paths ----

func TestErrorsContainNoPath(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	id := putOrig(t, d, []byte("orig"), nil)

	// An original replaced by a directory.
	p := fileOf(dir, originalPath(id))
	require.NoError(t, os.Remove(p))
	require.NoError(t, os.Mkdir(p, 0o750))
	_, err := d.Original(ctx, id)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), dir)
	require.NoError(t, os.Remove(p))

	// tmp/ replaced by a file: writes fail with ENOTDIR.
	require.NoError(t, os.RemoveAll(fileOf(dir, "tmp")))
	require.NoError(t, os.WriteFile(fileOf(dir, "tmp"), nil, 0o640))
	data := []byte("another")
	_, err = d.PutOriginal(ctx, hexID(data), data, nil)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrNotExist)
	assert.NotContains(t, err.Error(), dir)
	assert.NotContains(t, err.Error(), "tmp/")

	// A meta path that is a directory.
	data2 := []byte("x2")
	id2 := hexID(data2)
	require.NoError(t, os.MkdirAll(fileOf(dir, originalDir(id2)), 0o750))
	require.NoError(t, os.WriteFile(fileOf(dir, originalPath(id2)), data2, 0o640))
	require.NoError(t, os.Mkdir(fileOf(dir, metaPath(id2)), 0o750))
	_, err = d.OriginalMeta(ctx, id2)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), dir)

	// A rendition directory that is a file: PutRendition's mkdir fails.
	require.NoError(t, os.MkdirAll(fileOf(dir, filepath.Dir(renditionDir(id2))), 0o750))
	require.NoError(t, os.WriteFile(fileOf(dir, renditionDir(id2)), nil, 0o640))
	require.NoError(t, os.Remove(fileOf(dir, "tmp")))
	require.NoError(t, os.Mkdir(fileOf(dir, "tmp"), 0o750))
	err = d.PutRendition(ctx, id2, keyN(1), nil, []byte("p"))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), dir)
	assert.Empty(t, dirEntries(t, fileOf(dir, "tmp")))
}

func TestErrorsContainNoPathReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("permission checks do not apply to root")
	}
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	id := putOrig(t, d, []byte("orig"), nil)
	require.NoError(t, os.Chmod(fileOf(dir, "tmp"), 0o500))
	t.Cleanup(func() { _ = os.Chmod(fileOf(dir, "tmp"), 0o750) })
	err := d.PutRendition(ctx, id, keyN(1), nil, []byte("p"))
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrPermission)
	assert.NotContains(t, err.Error(), dir)
}

func TestCause(t *testing.T) {
	_, err := os.Open("/definitely/not/here")
	c := cause(err)
	assert.ErrorIs(t, c, os.ErrNotExist)
	assert.NotContains(t, c.Error(), "/definitely")
	wrapped := fsErr("op", strings.Repeat("a", 64), err)
	assert.ErrorIs(t, wrapped, os.ErrNotExist)
	assert.Equal(t, "store: op aaaaaaaaaaaa: no such file or directory", wrapped.Error())
	assert.NoError(t, cause(nil))
}

// TestMetaMissingAndReplaceMeta: an original without metadata is told apart from an absent
// one (ErrMetaMissing, still ErrNotExist), ReplaceMeta restores or replaces the metadata
// atomically, and never writes metadata for an absent original.
func TestMetaMissingAndReplaceMeta(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	id := putOrig(t, d, []byte("orig"), []byte("m1"))
	absent := keyN(7)

	_, err := d.OriginalMeta(ctx, absent)
	require.ErrorIs(t, err, ErrNotExist)
	assert.NotErrorIs(t, err, ErrMetaMissing, "no original: plain miss")

	require.NoError(t, os.Remove(fileOf(dir, metaPath(id))))
	_, err = d.OriginalMeta(ctx, id)
	require.ErrorIs(t, err, ErrMetaMissing)
	require.ErrorIs(t, err, ErrNotExist)

	require.NoError(t, d.ReplaceMeta(ctx, id, []byte("m2")))
	got, err := d.OriginalMeta(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, []byte("m2"), got)
	require.NoError(t, d.ReplaceMeta(ctx, id, []byte("m3")))
	got, err = d.OriginalMeta(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, []byte("m3"), got)

	require.ErrorIs(t, d.ReplaceMeta(ctx, absent, []byte("x")), ErrNotExist)
	assert.NoFileExists(t, fileOf(dir, metaPath(absent)))
	require.ErrorIs(t, d.ReplaceMeta(ctx, "../../etc", []byte("x")), ErrInvalidKey)
	ents, err := os.ReadDir(fileOf(dir, dirTmp))
	require.NoError(t, err)
	assert.Empty(t, ents, "no temp file left behind")
	require.NoError(t, d.Close())
	require.ErrorIs(t, d.ReplaceMeta(ctx, id, []byte("x")), ErrClosed)
}
