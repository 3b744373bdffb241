//go:build !unix

package sandbox

import (
	"errors"
	"runtime"
	"syscall"
)

// Supported reports whether workers can be confined and managed on this system.
const Supported = false

var errUnsupported = errors.New("sandbox: worker processes are not supported on " + runtime.GOOS)

// Restrict fails: there is nothing here to confine a worker with.
func Restrict(Limits) (Report, error) { return Report{}, errUnsupported }

// procAttr returns nil.
func procAttr() *syscall.SysProcAttr { return nil }

// killGroup fails.
func killGroup(int) error { return errUnsupported }

// waitExited fails.
func waitExited(int) error { return errUnsupported }
