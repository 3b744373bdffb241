package fastimagecache

import (
	"errors"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/sandbox"
)

// TestHEIFDecodeRSS: the AVIF decoder's peak resident memory, not only what the Go
// heap counts (wazero may map linear memory outside it), stays within what Put
// reserves for its decode. VmHWM is reset through /proc/self/clear_refs.
func TestHEIFDecodeRSS(t *testing.T) {
	if sandbox.RaceEnabled {
		t.Skip("memory is measured without the race detector")
	}
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset VmHWM: %v", err)
	}
	for _, side := range []int{300, 1200} {
		data := encodeAVIF(t, noisyNRGBA(side, side*3/4))
		h, err := inspect(data, putConfig{}, DefaultLimits())
		require.NoError(t, err)
		reserved := putBytes(h, len(data)) + (&Cache{}).setupBytes(h.format, "") - int64(len(data))
		runtime.GC()
		debug.FreeOSMemory()
		old := debug.SetGCPercent(-1)
		require.NoError(t, os.WriteFile("/proc/self/clear_refs", []byte("5"), 0))
		before, err := vmRSS()
		require.NoError(t, err)
		_, err = codec.DecodeAVIF(data)
		require.NoError(t, err)
		peak, err := vmHWM("self")
		debug.SetGCPercent(old)
		require.NoError(t, err)
		t.Logf("%dx%d: reserved %d, peak RSS growth %d (%.2f)", side, side*3/4, reserved, peak-before, float64(peak-before)/float64(reserved))
		assert.LessOrEqual(t, peak-before, reserved)
	}
}

// vmRSS is this process's resident set, in bytes.
func vmRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/self/status")
}
