//go:build !linux

package sandbox

import (
	"os"
	"os/exec"
	"sync"
)

// SelfPath is the program that runs this process (os.Executable).
func SelfPath() (string, error) { return os.Executable() }

// spawner starts workers. Outside Linux there is no parent-death signal to keep, so any
// goroutine may start them.
type spawner struct {
	mu      sync.Mutex // guards stopped
	stopped bool
}

func newSpawner() *spawner { return &spawner{} }

// start starts cmd.
func (s *spawner) start(cmd *exec.Cmd) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrClosed
	}
	return cmd.Start()
}

// stop ends the spawner; later starts fail with ErrClosed.
func (s *spawner) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
}
