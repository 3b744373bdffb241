package main

import (
	"bufio"
	"context"
	"io"
	"math"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/fastimagecache/fastimagecache"
	"github.com/stretchr/testify/require"
)

// serveUntilListening runs serve with args until it listens, calls check, then stops it
// and returns every line it printed.
func serveUntilListening(t *testing.T, check func(), args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := serve(ctx, append([]string{"-dir", t.TempDir(), "-addr", "127.0.0.1:0", "-debug-addr", "", "-drain-delay", "0"}, args...), pw)
		_ = pw.Close()
		done <- err
	}()
	var lines []string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "listening on") {
			check()
			cancel()
		}
	}
	require.NoError(t, <-done)
	return lines
}

func TestServeSetsRuntimeMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(math.MaxInt64)
	defer debug.SetMemoryLimit(old)
	const want = (1024 + 64 + 64) << 20 // default budget + default memory tier + headroom
	var during int64
	lines := serveUntilListening(t, func() { during = debug.SetMemoryLimit(-1) })
	require.Equal(t, int64(want), during)
	require.Contains(t, lines, "runtime memory limit 1152 MiB (budget + memory tier + 64 MiB: 1152 MiB)")
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "restored when serve returns")

	debug.SetMemoryLimit(300 << 20) // as GOMEMLIMIT=300MiB would
	lines = serveUntilListening(t, func() { during = debug.SetMemoryLimit(-1) })
	require.Equal(t, int64(300<<20), during, "a lower limit is kept")
	require.Contains(t, lines, "runtime memory limit 300 MiB (budget + memory tier + 64 MiB: 1152 MiB)")

	debug.SetMemoryLimit(math.MaxInt64)
	lines = serveUntilListening(t, func() { during = debug.SetMemoryLimit(-1) }, "-runtime-memory-limit=false")
	require.Equal(t, int64(math.MaxInt64), during, "left alone when asked")
	for _, l := range lines {
		require.NotContains(t, l, "memory limit")
	}
}

func TestServeHelpMentionsMemoryLimit(t *testing.T) {
	code, out, _ := runCLI(t, "serve", "-h")
	require.Equal(t, 0, code)
	require.Contains(t, out, "soft memory limit")
	require.Contains(t, out, "-runtime-memory-limit")
}

func TestParseFormatsKnowsTheModernFormats(t *testing.T) {
	got, err := parseFormats("jpeg, avif,heic")
	if err != nil || len(got) != 3 || got[1] != fastimagecache.AVIF || got[2] != fastimagecache.HEIC {
		t.Fatalf("parseFormats = %v, %v", got, err)
	}
	if _, err := parseFormats("svg"); err == nil {
		t.Fatal("svg accepted")
	}
}
