package fastimagecache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// TestS3ServerStoppedAndRestarted: with versitygw stopped, a Get the local tiers can
// answer succeeds, a miss, a Put and a Stat of an unknown ID fail with ErrStorage within
// their ctx; restarted, every call works again and nothing stored before is lost.
func TestS3ServerStoppedAndRestarted(t *testing.T) {
	v := startVersitygw(t)
	b := v.open()
	ctx := context.Background()
	n := bucketNode(t, b, WithMemoryCache(16<<10)) // metadata in memory, this rendition on disk
	info := put(t, n, fixture.JPEG(200, 150, 90))
	r, err := n.Get(ctx, info.ID, Spec{Width: 150})
	require.NoError(t, err)
	want := readRendition(t, r)

	v.stop()
	r, err = n.Get(ctx, info.ID, Spec{Width: 150})
	require.NoError(t, err, "local disk tier serves while the bucket is down")
	assert.Equal(t, want, readRendition(t, r))
	for name, call := range map[string]func(context.Context) error{
		"get miss": func(ctx context.Context) error { _, err := n.Get(ctx, info.ID, Spec{Width: 151}); return err },
		"put": func(ctx context.Context) error {
			_, err := n.Put(ctx, bytes.NewReader(fixture.PNG(20, 20)))
			return err
		},
		"stat":   func(ctx context.Context) error { _, err := n.Stat(ctx, idOf([]byte("unknown"))); return err },
		"delete": func(ctx context.Context) error { return n.Delete(ctx, info.ID) },
	} {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := call(cctx)
		cancel()
		assert.ErrorIs(t, err, ErrStorage, name)
	}

	v.start()
	r, err = n.Get(ctx, info.ID, Spec{Width: 151})
	require.NoError(t, err, "recovered after restart")
	readRendition(t, r)
	fresh := bucketNode(t, b)
	r, err = fresh.Get(ctx, info.ID, Spec{Width: 150})
	require.NoError(t, err, "nothing lost")
	assert.Equal(t, want, readRendition(t, r))
	assert.Equal(t, int64(1), fresh.Stats().BucketHits)
}

// TestS3DamagedBehindOurBack: objects changed in the server's own files are never
// served: a damaged or huge rendition is rendered again and rewritten, a damaged or huge
// original is ErrCorrupt (read no further than MaxBytes).
func TestS3DamagedBehindOurBack(t *testing.T) {
	v := startVersitygw(t)
	b := v.open()
	ctx := context.Background()
	lim := Limits{MaxBytes: 1 << 20}
	a := bucketNode(t, b, WithLimits(lim))
	src := fixture.JPEG(120, 90, 90)
	info := put(t, a, src)
	r, err := a.Get(ctx, info.ID, Spec{Width: 40})
	require.NoError(t, err)
	good := readRendition(t, r)
	rk := keysWith(bucketKeys(t, b), "fic1/r/")
	require.Len(t, rk, 1)
	path := v.objectPath(rk[0])
	obj, err := os.ReadFile(path)
	require.NoError(t, err)

	for name, bad := range map[string][]byte{
		"flipped":   append(bytes.Clone(obj[:len(obj)-1]), obj[len(obj)-1]^1),
		"truncated": obj[:len(obj)-10],
		"huge":      make([]byte, 8<<20),
	} {
		require.NoError(t, os.WriteFile(path, bad, 0o600), name)
		fresh := bucketNode(t, b, WithLimits(lim))
		dec := countDecodes(fresh)
		r, err := fresh.Get(ctx, info.ID, Spec{Width: 40})
		require.NoError(t, err, name)
		assert.Equal(t, good, readRendition(t, r), name)
		assert.Equal(t, int32(1), dec.Load(), "%s: rendered again", name)
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, obj, got, "%s: rewritten", name)
	}

	opath := v.objectPath(keysWith(bucketKeys(t, b), "fic1/o/")[0])
	for i, bad := range [][]byte{append(bytes.Clone(src[:len(src)-1]), src[len(src)-1]^1), make([]byte, 8<<20)} {
		require.NoError(t, os.WriteFile(opath, bad, 0o600))
		fresh := bucketNode(t, b, WithLimits(lim))
		_, err := fresh.Get(ctx, info.ID, Spec{Width: 41 + i})
		assert.ErrorIs(t, err, ErrCorrupt)
		put(t, fresh, src) // the true bytes repair it
		r, err := fresh.Get(ctx, info.ID, Spec{Width: 41 + i})
		require.NoError(t, err)
		readRendition(t, r)
	}
}

// slowProxy forwards TCP connections to target, holding every response chunk for delay
// (or until the test ends).
func slowProxy(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	stop := make(chan struct{})
	t.Cleanup(func() {
		close(stop)
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(s, c) })
			wg.Go(func() {
				buf := make([]byte, 4096)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						select {
						case <-time.After(delay):
						case <-stop:
							_ = c.Close()
							return
						}
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						_ = c.Close()
						return
					}
				}
			})
		}
	})
	return l.Addr().String()
}

// TestS3SlowResponsesHonourCtx: behind a proxy that holds every response, a Get and a
// Put return the ctx's error wrapped as ErrStorage soon after their deadline.
func TestS3SlowResponsesHonourCtx(t *testing.T) {
	v := startVersitygw(t)
	fast := v.open()
	seed := bucketNode(t, fast)
	info := put(t, seed, fixture.JPEG(100, 80, 90))

	slow := *v
	slow.addr = slowProxy(t, v.addr, 30*time.Second)
	n := bucketNode(t, slow.open())
	for name, call := range map[string]func(context.Context) error{
		"get":  func(ctx context.Context) error { _, err := n.Get(ctx, info.ID, Spec{Width: 30}); return err },
		"stat": func(ctx context.Context) error { _, err := n.Stat(ctx, info.ID); return err },
		"put": func(ctx context.Context) error {
			_, err := n.Put(ctx, bytes.NewReader(fixture.PNG(30, 30)))
			return err
		},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		done := make(chan error, 1)
		go func() { done <- call(ctx) }()
		select {
		case err := <-done:
			assert.True(t, errors.Is(err, context.DeadlineExceeded), "%s: %v", name, err)
			assert.ErrorIs(t, err, ErrStorage, name)
		case <-time.After(20 * time.Second): // hang guard only: the proxy holds for 30 s
			t.Fatalf("%s ignored its ctx", name)
		}
		cancel()
	}
}
