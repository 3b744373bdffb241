//go:build linux

package codec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dynamicChildEnv makes the test binary run dynamicChild instead of the tests.
const dynamicChildEnv = "CODEC_TEST_DYNAMIC_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(dynamicChildEnv) == "1" {
		os.Exit(dynamicChild())
	}
	os.Exit(m.Run())
}

// dynamicChild reports, one line each, what Check and the WebP encoder say in a process
// whose webp package may have loaded a system libwebp at init.
func dynamicChild() int {
	err := Check()
	fmt.Printf("check: dynamic=%t %v\n", errors.Is(err, ErrDynamic), err)
	var b bytes.Buffer
	err = EncodeWebP(&b, gradient(8, 8), WebPOptions{Quality: 80})
	fmt.Printf("webp: dynamic=%t bytes=%d %v\n", errors.Is(err, ErrDynamic), b.Len(), err)
	if Check() != nil { // Prepare would compile the AVIF codec otherwise: seconds
		fmt.Printf("prepare: dynamic=%t\n", errors.Is(Prepare(), ErrDynamic))
	}
	return 0
}

// systemLib finds a system library file named prefix.N, as Debian's libwebp7 and
// libwebpdemux2 install them (apt-get install webp).
func systemLib(prefix string) string {
	for _, dir := range []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"} {
		m, _ := filepath.Glob(filepath.Join(dir, prefix+".[0-9]*"))
		for _, f := range m {
			if !strings.HasSuffix(f, ".a") {
				return f
			}
		}
	}
	return ""
}

// TestGuardRefusesASystemLibrary proves the guard end to end on a real system library: a
// test binary built without the nodynamic tag, started with LD_LIBRARY_PATH holding
// libwebp.so and libwebpdemux.so (links to the system's), loads them at init; Check then
// reports ErrDynamic and the WebP encoder and Prepare refuse. Without those links the same
// binary loads nothing and the codecs work. It skips when the binary has no dlopen code
// (the nodynamic tag) or no system libwebp is installed, but never in CI (CI=true), where
// .ci/run installs it.
func TestGuardRefusesASystemLibrary(t *testing.T) {
	if nodynamicBuild {
		t.Skip("built with -tags nodynamic: the packages hold no dlopen code")
	}
	webp, demux := systemLib("libwebp.so"), systemLib("libwebpdemux.so")
	if webp == "" || demux == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no system libwebp/libwebpdemux: .ci/run installs them (apt-get install webp)")
		}
		t.Skip("no system libwebp/libwebpdemux (apt-get install webp)")
	}
	dir := t.TempDir()
	require.NoError(t, os.Symlink(webp, filepath.Join(dir, "libwebp.so")))
	require.NoError(t, os.Symlink(demux, filepath.Join(dir, "libwebpdemux.so")))
	run := func(env ...string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append([]string{dynamicChildEnv + "=1", "PATH=" + os.Getenv("PATH")}, env...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	loaded := run("LD_LIBRARY_PATH=" + dir)
	t.Logf("with %s, %s:\n%s", webp, demux, loaded)
	assert.Contains(t, loaded, "check: dynamic=true")
	assert.Contains(t, loaded, "webp: dynamic=true bytes=0")
	assert.Contains(t, loaded, "prepare: dynamic=true")
	clean := run()
	t.Logf("without:\n%s", clean)
	assert.Contains(t, clean, "check: dynamic=false <nil>")
	assert.Contains(t, clean, "webp: dynamic=false")
	assert.NotContains(t, clean, "bytes=0")
}
