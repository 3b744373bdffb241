package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fastimagecache/fastimagecache/internal/workerproto"
)

// Errors of Pool.Do besides the context's.
var (
	// ErrClosed is returned once the pool is closed.
	ErrClosed = errors.New("sandbox: pool closed")
	// ErrStart is returned when no worker could be started for a job.
	ErrStart = errors.New("sandbox: worker did not start")
	// ErrWorkerFailed is returned when the worker serving a job died, or answered with
	// something other than a well-formed Response to that job within the size allowed.
	ErrWorkerFailed = errors.New("sandbox: worker failed")
)

// Fixed bounds of a pool.
const (
	// startTimeout is PoolConfig.StartTimeout's default.
	startTimeout = 10 * time.Second
	// reapTimeout bounds the wait for a killed worker to be reaped, so that its memory is
	// back before its job returns.
	reapTimeout = 2 * time.Second
)

// PoolConfig configures a Pool.
type PoolConfig struct {
	Path          string            // the worker program, run without arguments
	Name          string            // its argv[0], what ps shows; default Path
	Env           []string          // its whole environment
	Workers       int               // worker processes, at least 1
	JobsPerWorker int               // jobs after which a worker is replaced, at least 1
	Setup         workerproto.Setup // sent to every worker first
	Stderr        io.Writer         // the workers' standard error; nil discards
	StderrBytes   int               // how much of each worker's standard error reaches Stderr
	Logger        *slog.Logger      // worker failures and incomplete confinement
	// StartTimeout bounds a worker's start: exec, runtime start-up, what the worker does
	// before confining itself, confinement, Hello. Default 10 s.
	StartTimeout time.Duration
}

// A Pool runs jobs on worker processes, one job at a time per worker. It is safe for
// concurrent use.
//
// Every worker runs PoolConfig.Path with only PoolConfig.Env, "/" as working directory,
// its stdin and stdout connected to the pool, and a process group of its own; on Linux it
// gets SIGKILL if the pool's process ends. The pool decides when a worker ends: after
// JobsPerWorker jobs, once it misbehaves, once a job's context is done, at Close; it then
// kills the worker's whole process group. A worker that dies on its own is noticed, even
// while idle, and replaced.
type Pool struct {
	cfg   PoolConfig
	spawn *spawner
	slots chan struct{} // one per worker serving a job
	seq   atomic.Uint64

	started  atomic.Int64 // workers started, ever
	failed   atomic.Int64 // workers that failed a job or died idle
	answered atomic.Int64 // jobs a worker answered

	// mu guards idle, live, all, closed, warned, landlock and every worker's gone, and
	// orders a worker's kill before its reaping.
	mu       sync.Mutex
	idle     []*worker
	live     int // workers started or starting, not yet retired
	all      map[*worker]struct{}
	closed   bool
	warned   bool
	landlock int64 // from the last Hello

	bg sync.WaitGroup // background starts and reapers; Add only under mu, while !closed
}

// worker is one worker process, used by one job at a time.
type worker struct {
	cmd  *exec.Cmd
	pid  int
	in   *os.File      // the pool's end of the worker's stdin
	outF *os.File      // the pool's end of the worker's stdout
	out  *bufio.Reader // over outF
	jobs int           // jobs served; touched only by the job holding the worker

	gone      bool          // the process has exited; guarded by Pool.mu
	exited    chan struct{} // closed once the process is reaped
	closePipe sync.Once
}

// NewPool starts the first worker, and fails if it cannot (or on a system where workers
// are not supported); the others start in the background.
func NewPool(cfg PoolConfig) (*Pool, error) {
	if !Supported {
		return nil, errors.New("sandbox: worker processes are not supported on this system")
	}
	if cfg.Workers < 1 || cfg.JobsPerWorker < 1 {
		return nil, fmt.Errorf("sandbox: %d workers, %d jobs per worker", cfg.Workers, cfg.JobsPerWorker)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = startTimeout
	}
	if cfg.Stderr != nil {
		cfg.Stderr = &syncWriter{w: cfg.Stderr}
	}
	p := &Pool{cfg: cfg, spawn: newSpawner(), slots: make(chan struct{}, cfg.Workers), all: map[*worker]struct{}{}}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.StartTimeout)
	defer cancel()
	p.live = 1
	w, err := p.start(ctx)
	if err != nil {
		p.Close()
		return nil, err
	}
	p.mu.Lock()
	p.idle = append(p.idle, w)
	p.mu.Unlock()
	for range cfg.Workers - 1 {
		p.refill()
	}
	return p, nil
}

// Landlock returns the Landlock ABI version the last worker to start reported enforcing;
// 0 means none.
func (p *Pool) Landlock() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.landlock
}

// Started returns the number of workers started so far.
func (p *Pool) Started() int64 { return p.started.Load() }

// Failed returns the number of workers that failed a job or died while idle.
func (p *Pool) Failed() int64 { return p.failed.Load() }

// Answered returns the number of jobs a worker answered (successfully or not).
func (p *Pool) Answered() int64 { return p.answered.Load() }

// PIDs returns the process IDs of the workers not yet reaped.
func (p *Pool) PIDs() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	pids := make([]int, 0, len(p.all))
	for w := range p.all {
		pids = append(pids, w.pid)
	}
	return pids
}

// Do sends q (its Seq set here) to a worker and returns the worker's Response, of at most
// maxResp bytes. A worker that dies before it acknowledges q never started it: it is
// replaced and q sent to another (up to Workers times). Once ctx is done the worker is killed and the error
// wraps ctx.Err(). Other errors wrap ErrClosed, ErrStart or ErrWorkerFailed; the worker
// is then replaced.
func (p *Pool) Do(ctx context.Context, q *workerproto.Request, maxResp int64) (*workerproto.Response, error) {
	q.Seq = p.seq.Add(1)
	for attempt := 0; ; attempt++ {
		w, err := p.acquire(ctx)
		if err != nil {
			return nil, err
		}
		resp, started, err := p.exchange(ctx, w, q, maxResp)
		if err == nil {
			p.answered.Add(1)
			p.release(w, resp.Retire)
			return resp, nil
		}
		state := p.retire(w, true)
		<-p.slots
		if ctx.Err() != nil {
			return nil, fmt.Errorf("worker job: %w", ctx.Err())
		}
		if !started && attempt < p.cfg.Workers {
			continue // the worker was dead before it took q; so may the other idle ones be
		}
		p.failed.Add(1)
		p.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "decode worker failed",
			slog.Int("pid", w.pid), slog.String("exit", state), slog.String("reason", failReason(err)))
		return nil, fmt.Errorf("worker %s, %s: %w", failReason(err), state, ErrWorkerFailed)
	}
}

// failReason names how an exchange failed, without quoting the worker.
func failReason(err error) string {
	switch {
	case errors.Is(err, workerproto.ErrTooLarge):
		return "sent a response too large"
	case errors.Is(err, workerproto.ErrMalformed):
		return "sent a malformed response"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, os.ErrClosed), errors.Is(err, syscall.EPIPE):
		return "ended"
	}
	return "failed"
}

// exchange writes q to w and reads its Ack and its Response; started reports whether the
// worker acknowledged q. Once ctx is done, w is killed, which ends the exchange.
func (p *Pool) exchange(ctx context.Context, w *worker, q *workerproto.Request, maxResp int64) (resp *workerproto.Response, started bool, err error) {
	stop := context.AfterFunc(ctx, func() { p.kill(w) })
	defer stop()
	if err := workerproto.WriteRequest(w.in, q); err != nil {
		return nil, false, err
	}
	seq, err := workerproto.ReadAck(w.out)
	if err != nil {
		return nil, false, err
	}
	if seq != q.Seq {
		return nil, true, fmt.Errorf("ack of job %d, want %d: %w", seq, q.Seq, workerproto.ErrMalformed)
	}
	resp, err = workerproto.ReadResponse(w.out, maxResp)
	if err != nil {
		return nil, true, err
	}
	if !stop() {
		return nil, true, ctx.Err() // answered just as ctx ended, and killed for it
	}
	if resp.Seq != q.Seq {
		return nil, true, fmt.Errorf("response to job %d, want %d: %w", resp.Seq, q.Seq, workerproto.ErrMalformed)
	}
	return resp, true, nil
}

// acquire takes a worker for one job: an idle one, or a new one when none is idle.
func (p *Pool) acquire(ctx context.Context) (*worker, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a worker: %w", ctx.Err())
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, ErrClosed
	}
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return w, nil
	}
	p.live++
	p.mu.Unlock()
	w, err := p.start(ctx)
	if err == nil {
		return w, nil
	}
	p.mu.Lock()
	p.live--
	p.mu.Unlock()
	<-p.slots
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("start a worker: %w", ctx.Err())
	case errors.Is(err, ErrClosed):
		return nil, err
	}
	p.cfg.Logger.LogAttrs(ctx, slog.LevelError, "decode worker did not start", slog.String("error", err.Error()))
	return nil, fmt.Errorf("%w: %w", ErrStart, err)
}

// release takes w back after a job it answered: among the idle workers, or, when it asked
// to retire, has served JobsPerWorker jobs or has exited since, to be replaced.
func (p *Pool) release(w *worker, retire bool) {
	w.jobs++
	p.mu.Lock()
	if !retire && !p.closed && !w.gone && w.jobs < p.cfg.JobsPerWorker {
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		<-p.slots
		return
	}
	p.mu.Unlock()
	p.retire(w, false)
	<-p.slots
}

// retire kills w (held by the caller, not idle) and starts a replacement in the
// background. With wait, it waits a little for w to be reaped, so that its memory is free
// before its job returns, and describes how w ended.
func (p *Pool) retire(w *worker, wait bool) string {
	p.kill(w)
	p.mu.Lock()
	p.live--
	p.mu.Unlock()
	p.refill()
	if !wait {
		return ""
	}
	t := time.NewTimer(reapTimeout)
	defer t.Stop()
	select {
	case <-w.exited:
		return w.cmd.ProcessState.String()
	case <-t.C:
		return "not reaped yet"
	}
}

// refill starts a worker in the background when fewer than Workers are alive.
func (p *Pool) refill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.live >= p.cfg.Workers {
		return
	}
	p.live++
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.StartTimeout)
		defer cancel()
		w, err := p.start(ctx)
		p.mu.Lock()
		defer p.mu.Unlock()
		switch {
		case err != nil:
			p.live--
			if !errors.Is(err, ErrClosed) {
				p.cfg.Logger.LogAttrs(ctx, slog.LevelError, "decode worker did not start", slog.String("error", err.Error()))
			}
		case p.closed:
			p.live--
			p.killLocked(w)
		default:
			p.idle = append(p.idle, w)
		}
	}()
}

// start starts a worker and waits, within ctx, for its Hello.
func (p *Pool) start(ctx context.Context) (*worker, error) {
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		_ = stdinR.Close()
		_ = stdinW.Close()
		return nil, err
	}
	name := p.cfg.Name
	if name == "" {
		name = p.cfg.Path
	}
	cmd := &exec.Cmd{
		Path:        p.cfg.Path,
		Args:        []string{name},
		Env:         append([]string{}, p.cfg.Env...), // never nil: nil would inherit ours
		Dir:         "/",
		Stdin:       stdinR,
		Stdout:      stdoutW,
		SysProcAttr: procAttr(),
		WaitDelay:   time.Second,
	}
	if p.cfg.Stderr != nil {
		cmd.Stderr = &cappedWriter{w: p.cfg.Stderr, left: p.cfg.StderrBytes}
	}
	err = p.spawn.start(cmd)
	_ = stdinR.Close() // the child has its copies
	_ = stdoutW.Close()
	if err != nil {
		_ = stdinW.Close()
		_ = stdoutR.Close()
		return nil, err
	}
	p.started.Add(1)
	w := &worker{cmd: cmd, pid: cmd.Process.Pid, in: stdinW, outF: stdoutR, out: bufio.NewReaderSize(stdoutR, 64<<10), exited: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		// Not reaped yet, so its group ID is still its own.
		_ = killGroup(w.pid)
		p.mu.Unlock()
		w.closePipes()
		_ = cmd.Wait()
		return nil, ErrClosed
	}
	p.all[w] = struct{}{}
	p.bg.Add(1)
	p.mu.Unlock()
	go p.reap(w) // #nosec G118 -- reap outlives the request: it waits for the worker process to exit, long after ctx may be done
	if err := p.handshake(ctx, w); err != nil {
		p.kill(w)
		return nil, err
	}
	return w, nil
}

// handshake sends the Setup and reads the Hello, within ctx.
func (p *Pool) handshake(ctx context.Context, w *worker) error {
	stop := context.AfterFunc(ctx, func() { p.kill(w) })
	defer stop()
	const hint = " (does the program's main call fastimagecache.RunWorkerIfRequested first?)"
	if err := workerproto.WriteSetup(w.in, p.cfg.Setup); err != nil {
		return fmt.Errorf("send setup: %w%s", err, hint)
	}
	hello, err := workerproto.ReadHello(w.out)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("no hello from the worker: %w%s", ctx.Err(), hint)
		}
		return fmt.Errorf("read hello: %w%s", err, hint)
	}
	if hello.Error != "" {
		return fmt.Errorf("worker refused to serve: %s", Sanitize(hello.Error))
	}
	p.mu.Lock()
	p.landlock = hello.Landlock
	warn := hello.Warnings != "" && !p.warned
	p.warned = p.warned || warn
	p.mu.Unlock()
	if warn {
		p.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "decode worker confinement incomplete",
			slog.Int64("landlock_abi", hello.Landlock), slog.String("warnings", Sanitize(hello.Warnings)))
	}
	return nil
}

// reap waits for w to exit; removes it from the idle workers if it was idle (and starts a
// replacement); kills what is left of its process group; and reaps it. Where an exit
// cannot be observed without reaping, the group is not killed afterwards: its ID may then
// name another group.
func (p *Pool) reap(w *worker) {
	defer p.bg.Done()
	observed := waitExited(w.pid) == nil
	if !observed {
		_ = w.cmd.Wait()
	}
	p.mu.Lock()
	w.gone = true
	if observed {
		_ = killGroup(w.pid)
	}
	wasIdle := false
	for i, v := range p.idle {
		if v == w {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			p.live--
			wasIdle = true
			break
		}
	}
	p.mu.Unlock()
	if wasIdle {
		p.failed.Add(1)
		p.cfg.Logger.LogAttrs(context.Background(), slog.LevelWarn, "idle decode worker died", slog.Int("pid", w.pid))
		p.refill()
	}
	if observed {
		_ = w.cmd.Wait()
	}
	w.closePipes()
	close(w.exited)
	p.mu.Lock()
	delete(p.all, w)
	p.mu.Unlock()
}

// kill kills w's process group, unless w has exited (its group ID may then be reused),
// and closes the pool's ends of its pipes, which ends any I/O on them.
func (p *Pool) kill(w *worker) {
	p.mu.Lock()
	p.killLocked(w)
	p.mu.Unlock()
}

func (p *Pool) killLocked(w *worker) {
	if !w.gone {
		_ = killGroup(w.pid)
	}
	w.closePipes()
}

func (w *worker) closePipes() {
	w.closePipe.Do(func() {
		_ = w.in.Close()
		_ = w.outF.Close()
	})
}

// Close kills every worker and waits until all are reaped. Jobs still running fail;
// later ones fail with ErrClosed. Close is idempotent.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	p.idle = nil
	for w := range p.all {
		p.killLocked(w)
	}
	p.mu.Unlock()
	p.bg.Wait()
	p.spawn.stop()
}

// Sanitize keeps at most 400 bytes of printable ASCII of a worker's text, for people.
func Sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

// cappedWriter passes on at most left bytes and swallows the rest, so that a worker never
// blocks on its standard error.
type cappedWriter struct {
	w    io.Writer
	left int
}

func (c *cappedWriter) Write(b []byte) (int, error) {
	if c.left > 0 {
		n := min(len(b), c.left)
		c.left -= n
		if _, err := c.w.Write(b[:n]); err != nil {
			c.left = 0
		}
	}
	return len(b), nil
}

// syncWriter serialises the writes of all workers to one PoolConfig.Stderr.
type syncWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
