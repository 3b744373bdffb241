//go:build linux

package fastimagecache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/workerproto"
)

// smuggled returns a 20×20 rendition as our encoders write it ("png", "jpeg" at the
// default quality, "gif"), or with a payload they never write: "png-zip" (a ZIP after
// IEND), "png-text" (a tEXt chunk), "jpeg-com" (a COM segment), "jpeg-app" (an APP1
// segment), "gif-comment" (a comment extension), "gif-app" (an application extension).
func smuggled(kind string) (format string, data []byte) {
	format, payload, _ := strings.Cut(kind, "-")
	var b bytes.Buffer
	m := image.NewGray(image.Rect(0, 0, 20, 20))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 13)
	}
	var err error
	switch format {
	case "png":
		b.Write(isoPNG(20, 20))
	case "jpeg":
		err = jpeg.Encode(&b, m, &jpeg.Options{Quality: defaultJPEGQuality})
	case "gif":
		err = gif.Encode(&b, image.NewPaletted(m.Rect, palette.Plan9), &gif.Options{NumColors: 256})
	case "webp":
		err = codec.EncodeWebP(&b, m, codec.WebPOptions{Quality: defaultWebPQuality, Method: webpMethod})
	case "avif":
		err = codec.EncodeAVIF(&b, m, codec.AVIFOptions{Quality: defaultAVIFQuality, Speed: avifSpeed})
	}
	if err != nil {
		panic(err)
	}
	data = b.Bytes()
	insert := func(at int, ins []byte) []byte {
		return append(append(append([]byte(nil), data[:at]...), ins...), data[at:]...)
	}
	switch payload {
	case "zip":
		data = append(data, "PK\x03\x04\x14\x00\x00\x00\x08\x00<?php system($_GET[0]); ?>"...)
	case "text":
		c := binary.BigEndian.AppendUint32(nil, 20)
		c = append(c, "tEXtComment\x00<script>x</script>"[:24]...)
		c = binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
		data = insert(33, c)
	case "com":
		data = insert(2, []byte("\xff\xfe\x00\x10<script>x</scr"))
	case "app":
		data = insert(2, []byte("\xff\xe1\x00\x08Exif\x00\x00"))
	case "comment":
		data = insert(13+3*256, []byte("\x21\xfe\x08<script>\x00"))
	case "app2":
		data = insert(13+3*256, []byte("\x21\xff\x0bXMP DataXMP\x01x\x00"))
	case "exif": // a RIFF chunk after the bitstream, the RIFF size made to agree
		data = append(data, "EXIF\x10\x00\x00\x00<script>x</script"...)
		binary.LittleEndian.PutUint32(data[4:], uint32(len(data)-8))
	case "box": // a box after mdat
		data = append(data, "\x00\x00\x00\x18uuid<script>x</script>"...)
	}
	return format, data
}

// TestIsolatedRefusesSmuggledBytes has a worker answer renditions of the right size and
// format that carry bytes our encoder never writes: each is refused with ErrCorrupt,
// while the same renditions without the payload are served.
func TestIsolatedRefusesSmuggledBytes(t *testing.T) {
	c := isoCache(t, IsolationConfig{Workers: 1})
	for _, kind := range []string{"png", "jpeg", "gif", "png-zip", "png-text", "jpeg-com", "jpeg-app", "gif-comment", "gif-app2",
		"webp", "avif", "webp-zip", "webp-exif", "avif-zip", "avif-box"} {
		t.Run(kind, func(t *testing.T) {
			format, want := smuggled(kind)
			info := put(t, c, isoFaulty("render", "smuggle", kind))
			r, err := c.Get(t.Context(), info.ID, Spec{Width: 32, Height: 32, Format: Format(format)})
			if !strings.Contains(kind, "-") {
				require.NoError(t, err, "our encoder's own layout")
				assert.Equal(t, want, readRendition(t, r))
				return
			}
			require.ErrorIs(t, err, ErrCorrupt)
			assert.NotContains(t, err.Error(), "<script")
			isoServes(t, c)
		})
	}
}

// TestIsolatedReservesAnswer checks that a Get's reservation covers the worker's answer
// at the bound the host enforces on it, on top of the render's own estimate.
func TestIsolatedReservesAnswer(t *testing.T) {
	c := isoCache(t, IsolationConfig{Workers: 1})
	data := fixture.PNG(640, 480)
	info := put(t, c, data)
	h, err := inspect(data, putConfig{}, c.lim)
	require.NoError(t, err)
	spec := Spec{Width: 400, Height: 300, Format: PNG}
	s, err := spec.canonical(c.lim, info, true)
	require.NoError(t, err)
	answer := c.iso.maxAnswer(h, s)
	assert.Greater(t, answer, int64(9*400*300), "the bound is the worst encoding's")
	c.budget.peak.Store(0)
	_, err = c.Get(t.Context(), info.ID, spec)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, c.budget.peak.Load(), renderBytes(h, s)+int64(len(data))+decodeOverhead+answer)
}

// TestIsolatedErrorNamesSentinelOnce checks that a worker's failure reads as one error,
// not one that repeats its sentinel.
func TestIsolatedErrorNamesSentinelOnce(t *testing.T) {
	c := isoCache(t, IsolationConfig{Workers: 1})
	full := fixture.PNG(64, 64)
	data := append(bytes.Clone(full[:len(full)-40]), full[len(full)-12:]...) // IDAT cut short
	_, err := c.Put(t.Context(), bytes.NewReader(data))
	require.ErrorIs(t, err, ErrCorrupt)
	t.Log(err)
	assert.Equal(t, 1, strings.Count(err.Error(), "corrupt image"), "%q", err.Error())
	assert.True(t, strings.HasSuffix(err.Error(), ": "+ErrCorrupt.Error()))
}

// trySyscalls runs, inside a worker, the calls the seccomp filter denies, and those the Go
// runtime needs, and reports each as "name: ERRNO;".
func trySyscalls() string {
	var report []string
	try := func(what string, err error) {
		var en unix.Errno
		res := "<nil>"
		if errors.As(err, &en) {
			res = unix.ErrnoName(en)
		} else if err != nil {
			res = "other"
		}
		report = append(report, what+": "+res+";")
	}
	ppid := os.Getppid()
	_, err := os.ReadFile("/etc/hostname")
	try("open", err)
	_, err = unix.Openat2(unix.AT_FDCWD, "/etc/hostname", &unix.OpenHow{Flags: unix.O_RDONLY})
	try("openat2", err)
	try("prlimit parent", unix.Prlimit(ppid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 100, Max: 100}, nil))
	try("setrlimit", unix.Setrlimit(unix.RLIMIT_CPU, &unix.Rlimit{Cur: 1 << 20, Max: 1 << 20}))
	try("kill parent", unix.Kill(ppid, 0))
	try("kill self", unix.Kill(os.Getpid(), 0))
	try("tgkill parent", unix.Tgkill(ppid, ppid, 0))
	_, _, errno := unix.RawSyscall(unix.SYS_TKILL, uintptr(ppid), 0, 0)
	try("tkill parent", errno)
	_, err = unix.Setsid()
	try("setsid", err)
	try("setpgid", unix.Setpgid(0, 0))
	try("unshare", unix.Unshare(unix.CLONE_NEWUSER|unix.CLONE_NEWNS))
	for name, flags := range map[string]uintptr{"fork": uintptr(unix.SIGCHLD), "clone newpid": uintptr(unix.CLONE_NEWPID | unix.SIGCHLD)} {
		pid, _, errno := unix.RawSyscall6(unix.SYS_CLONE, flags, 0, 0, 0, 0, 0)
		if errno == 0 && pid == 0 {
			unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0) // a child that should never have been
		}
		try(name, errno)
	}
	_, _, errno = unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	try("clone3", errno)
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 8 { // locked goroutines each hold a thread: the runtime must start new ones
		wg.Add(1)
		go func() {
			runtime.LockOSThread()
			wg.Done()
			<-release
		}()
	}
	wg.Wait()
	close(release)
	try("threads", nil)
	var l unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_NPROC, &l)
	report = append(report, fmt.Sprintf("nproc: %d/%d;", l.Cur, l.Max))
	return strings.Join(report, " ")
}

// TestIsolatedSeccompDenials has a worker try each call the seccomp filter refuses,
// with Landlock and, as on a kernel without it, without: each fails inside the worker
// (files included), this process's limits are untouched, and the worker's own signals and
// threads still work.
func TestIsolatedSeccompDenials(t *testing.T) {
	for _, landlock := range []bool{true, false} {
		t.Run(fmt.Sprintf("landlock=%t", landlock), func(t *testing.T) {
			ic := IsolationConfig{Workers: 1}
			if !landlock {
				ic.testEnv = []string{testNoLandlockEnv + "=1"}
			}
			c := isoCache(t, ic)
			if !landlock {
				require.Zero(t, c.iso.pool.Landlock(), "Landlock skipped")
			}
			var before, after unix.Rlimit
			require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &before))
			info := put(t, c, isoFaulty("render", "syscalls", ""))
			_, err := c.Get(t.Context(), info.ID, Spec{Width: 32, Height: 32})
			require.ErrorIs(t, err, ErrCorrupt)
			require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &after))
			if after != before {
				_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &before)
			}
			assert.Equal(t, before, after, "the worker changed this process's RLIMIT_NOFILE")
			msg := err.Error()
			t.Log(msg)
			for what, want := range map[string]string{
				"open": "EPERM", "openat2": "EPERM", "prlimit parent": "EPERM", "setrlimit": "EPERM",
				"kill parent": "EPERM", "tgkill parent": "EPERM", "tkill parent": "EPERM", "setsid": "EPERM",
				"setpgid": "EPERM", "unshare": "EPERM", "fork": "EPERM", "clone newpid": "EPERM",
				"clone3": "ENOSYS", "kill self": "<nil>", "threads": "<nil>",
			} {
				assert.Contains(t, msg, " "+what+": "+want+";", what)
			}
			assert.NotContains(t, msg, "nproc: 0/", "RLIMIT_NPROC leaves room")
			isoServes(t, c)
		})
	}
}

// TestCheckRenditionFrames checks that a worker's GIF has no more frames than its source,
// and one unless the spec keeps the animation.
func TestCheckRenditionFrames(t *testing.T) {
	anim := func(n int) []byte {
		g := &gif.GIF{LoopCount: 0}
		for range n {
			g.Image = append(g.Image, image.NewPaletted(image.Rect(0, 0, 100, 75), palette.Plan9))
			g.Delay = append(g.Delay, 10)
		}
		var b bytes.Buffer
		require.NoError(t, gif.EncodeAll(&b, g))
		return b.Bytes()
	}
	s := Spec{Width: 100, Height: 100, Format: GIF}
	for _, tc := range []struct {
		srcFrames, frames int
		ok                bool
	}{{3, 3, true}, {3, 2, true}, {3, 4, false}, {1, 2, false}, {0, 2, false}} {
		h := header{format: GIF, width: 640, height: 480, orientation: 1, frames: tc.srcFrames}
		_, err := checkRendition(&workerproto.Response{Format: "gif", Width: 100, Height: 75, Data: anim(tc.frames)}, h, s)
		if tc.ok {
			assert.NoError(t, err, "%d frames of %d", tc.frames, tc.srcFrames)
		} else {
			assert.ErrorIs(t, err, ErrCorrupt, "%d frames of %d", tc.frames, tc.srcFrames)
		}
	}
}
