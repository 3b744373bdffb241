package fastimagecache

import (
	"os"

	"golang.org/x/sys/unix"
)

// protocolOut moves a worker's answers off fd 1 and leaves /dev/null there. The WebAssembly
// codecs' modules write their standard output to os.Stdout (the gen2brain packages hand it
// to wazero), so whatever a codec prints, on any input, goes nowhere instead of into the
// protocol's pipe, where it could only spoil the answer that follows.
func protocolOut() (*os.File, error) {
	fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, err
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		_ = unix.Close(fd) // the worker exits on this error anyway
		return nil, err
	}
	defer null.Close()
	if err := unix.Dup3(int(null.Fd()), 1, 0); err != nil {
		_ = unix.Close(fd) // the worker exits on this error anyway
		return nil, err
	}
	return os.NewFile(uintptr(fd), "protocol"), nil
}
