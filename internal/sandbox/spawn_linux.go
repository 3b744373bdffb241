package sandbox

import (
	"os/exec"
	"runtime"
	"sync"
)

// SelfPath is the program that runs this process: on Linux /proc/self/exe, the very
// binary that is running, even if its file has since been replaced or removed.
func SelfPath() (string, error) { return "/proc/self/exe", nil }

// spawner starts workers from one OS thread that lives as long as the pool. Linux sends a
// worker its parent-death signal (SIGKILL) when the thread that forked it ends, not the
// process, and the Go runtime ends threads it no longer needs; forking from a thread
// locked to the spawner's goroutine keeps that signal for the real end of the pool.
type spawner struct {
	reqs     chan spawnRequest
	done     chan struct{}
	stopOnce sync.Once
}

type spawnRequest struct {
	cmd   *exec.Cmd
	reply chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnRequest), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *spawner) loop() {
	// Never unlocked: when the pool stops, the thread ends with this goroutine, and any
	// worker still alive gets its SIGKILL.
	runtime.LockOSThread()
	for {
		select {
		case r := <-s.reqs:
			r.reply <- r.cmd.Start()
		case <-s.done:
			return
		}
	}
}

// start starts cmd on the spawner's thread.
func (s *spawner) start(cmd *exec.Cmd) error {
	r := spawnRequest{cmd: cmd, reply: make(chan error, 1)}
	select {
	case s.reqs <- r:
		return <-r.reply
	case <-s.done:
		return ErrClosed
	}
}

// stop ends the spawner; later starts fail with ErrClosed.
func (s *spawner) stop() { s.stopOnce.Do(func() { close(s.done) }) }
