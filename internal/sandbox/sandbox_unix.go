//go:build unix && !linux

package sandbox

import (
	"errors"
	"fmt"
	"syscall"
)

// Supported reports whether workers can be confined and managed on this system.
const Supported = true

// Restrict sets the resource limits it can (CPU time, core files, file size, open files);
// Landlock and seccomp are Linux-only, and the address-space limit is not set because not
// every system enforces it. The gaps are in the Report's warnings.
func Restrict(l Limits) (Report, error) {
	for _, r := range []struct {
		name     string
		resource int
		value    uint64
	}{
		{"RLIMIT_CPU", syscall.RLIMIT_CPU, max(l.CPUSeconds, 1)},
		{"RLIMIT_CORE", syscall.RLIMIT_CORE, 0},
		{"RLIMIT_FSIZE", syscall.RLIMIT_FSIZE, 0},
		{"RLIMIT_NOFILE", syscall.RLIMIT_NOFILE, l.OpenFiles},
	} {
		var cur syscall.Rlimit
		if err := syscall.Getrlimit(r.resource, &cur); err != nil {
			return Report{}, fmt.Errorf("get %s: %w", r.name, err)
		}
		v := lower(cur.Max, r.value)
		if err := syscall.Setrlimit(r.resource, &syscall.Rlimit{Cur: v, Max: v}); err != nil {
			return Report{}, fmt.Errorf("set %s to %d: %w", r.name, v, err)
		}
	}
	return Report{Warnings: []string{
		"landlock and seccomp are Linux-only: files and network not restricted",
		"address space not limited",
	}}, nil
}

// lower returns v, or hard when that is lower; rlimit fields are signed on some systems.
func lower[T int64 | uint64](hard T, v uint64) T {
	if uint64(hard) < v {
		return hard
	}
	return T(v)
}

// procAttr returns the attributes a worker is started with: a process group of its own,
// so it can be killed with everything it started.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// killGroup sends SIGKILL to the process group pgid. A group that no longer exists is
// not an error.
func killGroup(pgid int) error {
	if pgid <= 0 {
		return fmt.Errorf("kill process group %d: %w", pgid, syscall.EINVAL)
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill process group %d: %w", pgid, err)
	}
	return nil
}

// waitExited is not available here: callers reap with os/exec.Cmd.Wait instead.
func waitExited(pid int) error { return errors.ErrUnsupported }
