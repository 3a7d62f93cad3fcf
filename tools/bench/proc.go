package bench

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a child process the harness started. Every Proc is registered so
// that stopAll can end it however the harness exits (error, Ctrl-C).
type Proc struct {
	Name string
	Log  string // path of the combined stdout/stderr log
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

var procs struct {
	sync.Mutex
	list []*Proc
}

// startProc starts bin with args and env (added to the harness's own
// environment), logging to logPath. The child gets its own process group,
// so a Ctrl-C in the terminal reaches only the harness, which then stops
// the children in order; Pdeathsig kills it if the harness itself dies.
func startProc(name, logPath string, env []string, bin string, args ...string) (*Proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	procs.Lock()
	procs.list = append(procs.list, p)
	procs.Unlock()
	return p, nil
}

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, waits up to grace, then SIGKILLs the process group.
func (p *Proc) Stop(grace time.Duration) {
	if p == nil || p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		<-p.done
	}
	procs.Lock()
	procs.list = slices.DeleteFunc(procs.list, func(q *Proc) bool { return q == p })
	procs.Unlock()
}

// Tail is the end of the process's log, for error messages.
func (p *Proc) Tail(n int) string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stopAll stops every registered process, newest first (APIs and workers
// before the servers they talk to).
func stopAll() {
	procs.Lock()
	list := slices.Clone(procs.list)
	procs.Unlock()
	var wg sync.WaitGroup
	// Clients first, then servers, each group in parallel.
	for _, servers := range []bool{false, true} {
		for i := len(list) - 1; i >= 0; i-- {
			if strings.HasPrefix(list[i].Name, "server") == servers {
				wg.Add(1)
				go func(p *Proc) { defer wg.Done(); p.Stop(5 * time.Second) }(list[i])
			}
		}
		wg.Wait()
	}
}

// killAll is the last resort of a second Ctrl-C.
func killAll() {
	procs.Lock()
	defer procs.Unlock()
	for _, p := range procs.list {
		_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
	}
}
