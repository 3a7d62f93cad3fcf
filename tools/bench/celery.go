package bench

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The Celery app and its client (tools/bench/celery), embedded so that
// bin/bench runs them from any folder: a run writes them to its scratch
// folder.
//
//go:embed celery/app.py celery/driver.py
var celeryFiles embed.FS

// celeryTools are the programs the Celery side needs: Debian's python3
// with python3-celery and python3-redis, and redis-server.
type celeryTools struct {
	python, redis string
	// versions, for the report: Celery's, kombu's and redis-server's.
	celery, kombu, redisVersion string
}

// celeryPackages are the Debian packages the Celery side needs;
// scripts/bench-deps.sh installs them and must name the same.
var celeryPackages = []string{"python3-celery", "python3-redis", "redis-server"}

// findCelery finds the Celery side's programs, or says what is missing and
// how to get it. Debian's python3 comes first: python3-celery installs into
// its dist-packages, and a python3 earlier on PATH (pyenv, a virtualenv)
// may not see them.
func findCelery() (celeryTools, error) {
	var t celeryTools
	redis, err := exec.LookPath("redis-server")
	if err != nil {
		return t, fmt.Errorf("redis-server not found: `make bench` installs %s (scripts/bench-deps.sh)", strings.Join(celeryPackages, ", "))
	}
	t.redis = redis
	if out, err := exec.Command(redis, "--version").Output(); err == nil {
		t.redisVersion = strings.TrimSpace(string(out))
	}
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil && p != candidates[0] {
		candidates = append(candidates, p)
	}
	for _, py := range candidates {
		out, err := exec.Command(py, "-c", "import celery, kombu, redis; print(celery.__version__, kombu.__version__)").Output()
		if err != nil {
			continue
		}
		if f := strings.Fields(string(out)); len(f) == 2 {
			t.python, t.celery, t.kombu = py, f[0], f[1]
			return t, nil
		}
	}
	return t, fmt.Errorf("no python3 (tried %s) imports celery and redis: `make bench` installs %s (scripts/bench-deps.sh)",
		strings.Join(candidates, ", "), strings.Join(celeryPackages, ", "))
}

// describe is the Celery side's versions, for the report.
func (t celeryTools) describe() string {
	return fmt.Sprintf("Celery %s (kombu %s) on `%s`, %s", t.celery, t.kombu, t.python, t.redisVersion)
}

// celeryStack is a Redis server (the broker and the result backend) with
// one Celery worker of tools/bench/celery/app.py on it.
type celeryStack struct {
	tools  celeryTools
	name   string
	dir    string // the app's folder, Redis's data folder and the logs
	logs   string // where the driver's stderr goes
	url    string // redis://127.0.0.1:<port>/0
	redis  *Proc
	worker *Proc
}

// startCelery writes the app into a folder of e's scratch folder, starts
// Redis on a free loopback port with its data there, then the worker, and
// returns once a job of each kind has run.
func (e *Env) startCelery(ctx context.Context, name string, t celeryTools) (*celeryStack, error) {
	c := &celeryStack{tools: t, name: name, dir: filepath.Join(e.Dir, "celery-"+name)}
	c.logs = filepath.Join(c.dir, "driver.log")
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, err
	}
	for _, f := range []string{"app.py", "driver.py"} {
		b, err := celeryFiles.ReadFile("celery/" + f)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(c.dir, f), b, 0o644); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c.url = "redis://" + addr + "/0"
	// Redis's own defaults (RDB snapshots, no append-only file), as a
	// redis-server without a config file runs, but on loopback only and
	// with its dump in the scratch folder. The name starts with "server" so
	// that stopAll stops it after the worker and clients.
	c.redis, err = startProc("server-redis-"+name, filepath.Join(c.dir, "redis.log"), nil, t.redis,
		"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", c.dir, "--protected-mode", "yes", "--daemonize", "no")
	if err != nil {
		return nil, err
	}
	if err := waitFor(ctx, 20*time.Second, func() error { return redisPing(addr, c.redis) }); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redis-server: %w\n%s", err, c.redis.Tail(10))
	}
	c.worker, err = startProc("celery-worker-"+name, filepath.Join(c.dir, "worker.log"), c.env(), t.python,
		"-m", "celery", "--workdir", c.dir, "-A", "app", "worker", "--loglevel", "warning", "--hostname", "bench-"+name+"@%h")
	if err != nil {
		c.Stop()
		return nil, err
	}
	err = waitFor(ctx, 60*time.Second, func() error {
		if c.worker.Exited() {
			return fmt.Errorf("celery worker exited:\n%s", c.worker.Tail(20))
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := c.driver(pctx, nil, "ping")
		return err
	})
	if err != nil {
		c.Stop()
		return nil, fmt.Errorf("celery worker does not run jobs: %w", err)
	}
	return c, nil
}

// env is the environment of the worker and the driver.
func (c *celeryStack) env() []string {
	return []string{"BENCH_REDIS_URL=" + c.url, "PYTHONPATH=" + c.dir, "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"}
}

// Stop stops the worker (a warm shutdown: running tasks end first, within
// the grace) and then Redis.
func (c *celeryStack) Stop() {
	if c == nil {
		return
	}
	c.worker.Stop(10 * time.Second)
	c.redis.Stop(10 * time.Second)
}

// poolPIDs are the worker's pool processes: the children of its main
// process.
func (c *celeryStack) poolPIDs() []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", c.worker.PID(), c.worker.PID()))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		var p int
		if _, err := fmt.Sscan(f, &p); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// redisPing sends PING to the Redis server at addr.
func redisPing(addr string, p *Proc) error {
	if p.Exited() {
		return errors.New("redis-server exited")
	}
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// driver runs tools/bench/celery/driver.py with args and returns what it
// printed on stdout (one JSON object); its stderr is appended to the
// stack's driver log. The driver gets its own process group, killed when
// ctx ends or the harness dies.
func (c *celeryStack) driver(ctx context.Context, env []string, args ...string) ([]byte, error) {
	logf, err := os.OpenFile(c.logs, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, c.tools.python, append([]string{filepath.Join(c.dir, "driver.py")}, args...)...)
	cmd.Dir = c.dir
	cmd.Env = append(append(os.Environ(), c.env()...), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("driver.py %s: %w (see %s)", strings.Join(args, " "), err, c.logs)
	}
	return out.Bytes(), nil
}

// Celery job kinds of scenario 12 (driver.py's KIND).
const (
	celerySingle = "single"
	celeryChain  = "chain"
)

// block runs a closed loop of jobs Celery jobs of kind with conc
// concurrent clients in the driver, and returns it as the Go side's
// closed loops report theirs.
func (c *celeryStack) block(ctx context.Context, kind string, conc, jobs int) (closedResult, error) {
	out, err := c.driver(ctx, nil, "block", kind, fmt.Sprint(jobs), fmt.Sprint(conc))
	if err != nil {
		return closedResult{}, err
	}
	return parseBlock(out)
}

// parseBlock reads driver.py block's output.
func parseBlock(out []byte) (closedResult, error) {
	var v struct {
		Lat     []int64 `json:"lat_ns"`
		Errors  int     `json:"errors"`
		First   *string `json:"first_error"`
		Elapsed int64   `json:"elapsed_ns"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return closedResult{}, fmt.Errorf("driver.py block printed %q: %w", out, err)
	}
	r := closedResult{Lat: &Sample{}, Elapsed: time.Duration(v.Elapsed)}
	for _, d := range v.Lat {
		r.Lat.Add(time.Duration(d))
	}
	for range v.Errors {
		msg := "unknown error"
		if v.First != nil {
			msg = *v.First
		}
		r.Lat.Fail(errors.New(msg))
	}
	return r, nil
}
