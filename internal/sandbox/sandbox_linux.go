//go:build linux

package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// Supported reports whether workers can be confined and managed on this system.
const Supported = true

// landlockMaxABI is the highest Landlock ABI the pinned go-landlock knows.
const landlockMaxABI = 11

// Restrict confines the calling process for good; see the package documentation. An error
// means a resource limit could not be set, and the process must not go on.
func Restrict(l Limits) (Report, error) {
	var rep Report
	if err := setLimits(l); err != nil {
		return rep, err
	}
	abi, err := 0, error(nil)
	if !l.SkipLandlock {
		abi, err = restrictLandlock()
	}
	switch {
	case l.SkipLandlock:
		rep.Warnings = append(rep.Warnings, "landlock skipped")
	case err != nil:
		rep.Warnings = append(rep.Warnings, "landlock: "+err.Error())
	case abi == 0:
		rep.Warnings = append(rep.Warnings, "landlock unavailable")
	default:
		rep.Landlock = abi
	}
	if err := installSeccomp(); err != nil {
		rep.Warnings = append(rep.Warnings, "seccomp: "+err.Error())
	} else {
		rep.Seccomp = true
	}
	if rep.Seccomp {
		return rep, nil // it denies files, sockets, processes and signals whatever Landlock does
	}
	switch {
	case rep.Landlock < 4:
		rep.Warnings = append(rep.Warnings, "network not restricted")
	case rep.Landlock < 10:
		rep.Warnings = append(rep.Warnings, "UDP, raw and multipath TCP sockets not restricted")
	default:
		rep.Warnings = append(rep.Warnings, "raw and multipath TCP sockets not restricted")
	}
	if rep.Landlock == 0 {
		rep.Warnings = append(rep.Warnings, "files not restricted")
	}
	if rep.Landlock < 6 {
		rep.Warnings = append(rep.Warnings, "signals to other processes of the same user not restricted")
	}
	rep.Warnings = append(rep.Warnings, "processes, namespaces and resource limits not restricted")
	return rep, nil
}

// restrictLandlock enforces Landlock with no rule: every handled access is denied. It
// returns the ABI version in force, 0 when the kernel has none.
func restrictLandlock() (int, error) {
	abi, err := llsys.LandlockGetABIVersion()
	if err != nil || abi <= 0 {
		return 0, nil
	}
	if err := landlock.V11.BestEffort().Restrict(); err != nil {
		return 0, err
	}
	return min(abi, landlockMaxABI), nil
}

// setLimits sets each limit as both soft and hard limit, never above the hard limit
// already in force.
func setLimits(l Limits) error {
	as, data, err := footprint()
	if err != nil {
		return fmt.Errorf("read memory footprint: %w", err)
	}
	tasks, err := systemTasks()
	if err != nil {
		return fmt.Errorf("count tasks: %w", err)
	}
	extra := uint64(max(l.MemoryBytes, 0)) + headroom
	if RaceEnabled {
		extra += 4 * uint64(max(l.MemoryBytes, 0)) // shadow memory and the detector's own heap
	}
	for _, r := range []struct {
		name     string
		resource int
		value    uint64
	}{
		{"RLIMIT_AS", unix.RLIMIT_AS, as + extra},
		{"RLIMIT_DATA", unix.RLIMIT_DATA, data + extra},
		{"RLIMIT_CPU", unix.RLIMIT_CPU, max(l.CPUSeconds, 1)},
		{"RLIMIT_CORE", unix.RLIMIT_CORE, 0},
		{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE, 0},
		{"RLIMIT_MEMLOCK", unix.RLIMIT_MEMLOCK, 0},
		{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, l.OpenFiles},
		{"RLIMIT_NPROC", unix.RLIMIT_NPROC, tasks + taskMargin},
	} {
		var cur unix.Rlimit
		if err := unix.Getrlimit(r.resource, &cur); err != nil {
			return fmt.Errorf("get %s: %w", r.name, err)
		}
		v := min(r.value, cur.Max)
		if err := unix.Setrlimit(r.resource, &unix.Rlimit{Cur: v, Max: v}); err != nil {
			return fmt.Errorf("set %s to %d: %w", r.name, v, err)
		}
	}
	return nil
}

// taskMargin is how many tasks (threads or processes) the worker's user may have beyond all
// the tasks the system runs when Restrict is called (RLIMIT_NPROC). The kernel counts the
// limit against every task of the real user ID, not this process's: a limit near the
// worker's own thread count would make the Go runtime fail to start a thread, and die,
// whenever the server running as the same user had more. Counting from the whole system's
// tasks leaves the worker's runtime (GOMAXPROCS plus a handful of threads) all of the
// margin, even if every other task on the system were its user's, and the margin leaves the
// user's other processes room to grow during the worker's life. What the limit stops is a
// thread bomb (processes the seccomp filter refuses outright): about 1024 kernel stacks at
// most. The kernel does not apply it to root or to CAP_SYS_RESOURCE.
const taskMargin = 1024

// systemTasks returns the number of tasks on the system, from /proc/loadavg's fourth field
// ("running/total"), read before Landlock and seccomp deny it.
func systemTasks() (uint64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f := bytes.Fields(b)
	if len(f) < 4 {
		return 0, errors.New("short /proc/loadavg")
	}
	_, total, ok := bytes.Cut(f[3], []byte("/"))
	if !ok {
		return 0, errors.New("no task count in /proc/loadavg")
	}
	return strconv.ParseUint(string(total), 10, 64)
}

// footprint returns the process's address space and data segment sizes, in bytes, from
// /proc/self/statm (read before Landlock denies it).
func footprint() (as, data uint64, err error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, 0, err
	}
	f := bytes.Fields(b)
	if len(f) < 6 {
		return 0, 0, errors.New("short /proc/self/statm")
	}
	size, err1 := strconv.ParseUint(string(f[0]), 10, 64)
	d, err2 := strconv.ParseUint(string(f[5]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, err
	}
	page := uint64(os.Getpagesize()) // #nosec G115 -- the page size is a small positive power of two
	return size * page, d * page, nil
}

// procAttr returns the attributes a worker is started with: a process group of its own,
// so it can be killed with everything it started, and SIGKILL when the thread that
// started it ends (start workers from a thread that lives as long as they should).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup sends SIGKILL to the process group pgid. A group that no longer exists is
// not an error. Call it only before the group's leader has been reaped, so the ID cannot
// have been reused.
func killGroup(pgid int) error {
	if pgid <= 0 {
		return fmt.Errorf("kill process group %d: %w", pgid, syscall.EINVAL)
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill process group %d: %w", pgid, err)
	}
	return nil
}

// waitExited blocks until the child pid has exited, without reaping it: its ID, and its
// process group's, stay valid until the caller reaps it (os/exec.Cmd.Wait).
func waitExited(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
