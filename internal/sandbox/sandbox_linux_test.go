package sandbox

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// childEnv makes the test binary run restrictedChild instead of the tests.
const childEnv = "SANDBOX_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(restrictedChild())
	}
	os.Exit(m.Run())
}

// restrictedChild confines itself, then tries what a taken-over decoder would, and prints
// one line per attempt.
func restrictedChild() int {
	rep, err := Restrict(Limits{MemoryBytes: 64 << 20, CPUSeconds: 30, OpenFiles: 16})
	if err != nil {
		fmt.Println("restrict:", err)
		return 1
	}
	fmt.Printf("landlock=%d seccomp=%t warnings=%q\n", rep.Landlock, rep.Seccomp, rep.Warnings)
	_, err = os.ReadFile("/etc/passwd")
	fmt.Println("read:", err)
	fmt.Println("write:", os.WriteFile(os.Getenv("SANDBOX_TEST_FILE"), []byte("x"), 0o600))
	_, err = syscall.ForkExec("/bin/true", []string{"true"}, nil)
	fmt.Println("exec:", err)
	_, err = net.Dial("tcp", os.Getenv("SANDBOX_TEST_ADDR"))
	fmt.Println("tcp:", err)
	_, err = net.Dial("udp", "127.0.0.1:9")
	fmt.Println("udp:", err)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.Close(fd)
	}
	fmt.Println("unix socket:", err)
	fmt.Println("signal parent:", syscall.Kill(os.Getppid(), 0))
	var l unix.Rlimit
	for _, r := range []struct {
		name string
		res  int
	}{{"core", unix.RLIMIT_CORE}, {"fsize", unix.RLIMIT_FSIZE}, {"nofile", unix.RLIMIT_NOFILE}, {"cpu", unix.RLIMIT_CPU}} {
		_ = unix.Getrlimit(r.res, &l)
		fmt.Printf("%s=%d/%d\n", r.name, l.Cur, l.Max)
	}
	return 0
}

func TestRestrict(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	file := t.TempDir() + "/escape"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = []string{childEnv + "=1", "SANDBOX_TEST_ADDR=" + ln.Addr().String(), "SANDBOX_TEST_FILE=" + file}
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	require.NoError(t, err)
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(l, ":")
		if strings.Contains(k, "=") {
			k, v, _ = strings.Cut(l, "=")
		}
		lines[k] = strings.TrimSpace(v)
	}
	for _, k := range []string{"read", "write", "exec", "tcp", "udp", "unix socket"} {
		assert.NotEqual(t, "<nil>", lines[k], "%s succeeded", k)
	}
	assert.Equal(t, "0/0", lines["core"])
	assert.Equal(t, "0/0", lines["fsize"])
	assert.Equal(t, "16/16", lines["nofile"])
	assert.Equal(t, "30/30", lines["cpu"])
	_, err = os.Stat(file)
	assert.ErrorIs(t, err, os.ErrNotExist)
	if abi, _ := landlockABI(); abi >= 6 {
		assert.NotEqual(t, "<nil>", lines["signal parent"], "landlock scopes signals from ABI 6")
	}
}

func landlockABI() (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// TestSeccompFilter runs the filter on a small BPF interpreter: the denied calls fail
// with EPERM, every other call is allowed, a foreign architecture is killed, and x32
// calls on amd64 fail.
func TestSeccompFilter(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("no filter for", runtime.GOARCH)
	}
	const arch = 0xc000003e
	prog := seccompFilter(arch, true)
	errno := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	for _, nr := range deniedSyscalls {
		assert.Equal(t, errno, runBPF(t, prog, nr, arch), "syscall %d", nr)
	}
	for nr := uint32(0); nr < 500; nr++ {
		want := uint32(unix.SECCOMP_RET_ALLOW)
		for _, d := range deniedSyscalls {
			if d == nr {
				want = errno
			}
		}
		assert.Equal(t, want, runBPF(t, prog, nr, arch), "syscall %d", nr)
	}
	assert.Equal(t, uint32(unix.SECCOMP_RET_KILL_PROCESS), runBPF(t, prog, 0, 0x40000003))
	assert.Equal(t, errno, runBPF(t, prog, x32Bit|1, arch), "x32 call")
	assert.Equal(t, uint32(unix.SECCOMP_RET_ALLOW), runBPF(t, seccompFilter(arch, false), x32Bit|1, arch), "no x32 check")
}

// runBPF interprets the instructions seccompFilter uses, on seccomp_data{nr, arch}.
func runBPF(t *testing.T, prog []unix.SockFilter, nr, arch uint32) uint32 {
	t.Helper()
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			switch in.K {
			case 0:
				acc = nr
			case 4:
				acc = arch
			default:
				t.Fatalf("load at %d", in.K)
			}
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if acc == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			if acc >= in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %#x", in.Code)
		}
	}
	t.Fatal("ran off the end")
	return 0
}

func TestKillGroupOfNobody(t *testing.T) {
	require.Error(t, killGroup(0))
	// A process group that cannot exist: PIDs stop well below 2^22 on Linux.
	assert.NoError(t, killGroup(1<<22+12345))
	assert.True(t, errors.Is(waitExited(1<<22+12345), unix.ECHILD))
}
