package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/docket-dev/docket/job"
)

// devTopology is the short chaos run's topology: the real worker and API
// binaries (built by the test), two of each, and a Temporal dev server of
// the pinned CLI on a SQLite file, so that a restart keeps its jobs. Every
// process runs in its own process group, which cleanup kills.
type devTopology struct {
	t        *testing.T
	dir      string
	cli      string
	worker   string
	api      string
	port     int
	apiPorts []int
	temporal client.Client
	// key is the API replicas' one key, of tenant "chaos": the short run
	// goes through authentication and tenant scoping as production does.
	key, keysFile string
	// ring is the encryption key ring every process uses.
	ring string
	// hookSecretFile holds the server's webhook signing secret, which the
	// workers read from it (DOCKET_WEBHOOK_SECRET_FILE, as compose and the
	// cluster do); hookSecret is its content, for the run's receiver.
	hookSecretFile, hookSecret string
	// tools holds the tesseract wrapper put first on the workers' PATH;
	// runs is where it keeps each recognition (see tesseractWrapper).
	tools, runs string

	mu    sync.Mutex
	procs map[string]*proc
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func newDevTopology(t *testing.T, cli string) *devTopology {
	dir := t.TempDir()
	d := &devTopology{t: t, dir: dir, cli: cli, procs: map[string]*proc{}}
	d.worker = filepath.Join(dir, "worker")
	d.api = filepath.Join(dir, "docket-api")
	root := repoRoot(t)
	for _, b := range []struct{ out, pkg string }{{d.worker, "./worker"}, {d.api, "./api/cmd/docket-api"}} {
		// The same build as the Makefile's build target.
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	d.port = freePort(t)
	d.apiPorts = []int{freePort(t), freePort(t)}
	d.keysFile = filepath.Join(dir, "keys.json")
	cmd := exec.Command(d.api, "keys", "new", "--tenant", "chaos", "--scopes",
		"jobs:read,jobs:write,documents:read,documents:write", "--file", d.keysFile)
	cmd.Env = d.env()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docket-api keys new: %v", err)
	}
	d.key = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	// Encrypted, as make run runs: the replicas and workers share a ring.
	d.ring = filepath.Join(dir, "encryption-keys.json")
	cmd = exec.Command(d.api, "keyring", "new", d.ring)
	cmd.Env = d.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docket-api keyring new: %v\n%s", err, out)
	}
	d.hookSecretFile = filepath.Join(dir, "webhook-secret")
	cmd = exec.Command(d.api, "webhook-secret", "new", d.hookSecretFile)
	cmd.Env = d.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docket-api webhook-secret new: %v\n%s", err, out)
	}
	b, err := os.ReadFile(d.hookSecretFile)
	if err != nil {
		t.Fatal(err)
	}
	d.hookSecret = strings.TrimSpace(string(b))
	d.installTesseractWrapper(t)
	t.Cleanup(d.killAll)
	return d
}

// tesseractWrapper runs the real tesseract (%[1]q) and, for a recognition
// (output to stdout) that succeeds, keeps what it printed in
// $CHAOS_TESSERACT_RUNS, in a file named by the worker that ran it and the
// time it ended: the document case counts each page's recognitions from
// them. Other runs (--version, --list-langs) are the real tool's.
const tesseractWrapper = `#!/bin/sh
case " $* " in
*" stdout "*) ;;
*) exec %[1]q "$@" ;;
esac
out=$(mktemp "$CHAOS_TESSERACT_RUNS/.run-XXXXXX") || exit 1
%[1]q "$@" >"$out"
rc=$?
cat "$out"
if [ "$rc" -eq 0 ]; then
  mv "$out" "$CHAOS_TESSERACT_RUNS/$CHAOS_WORKER.$(date +%%s%%N).$$.txt"
else
  rm -f "$out"
fi
exit "$rc"
`

// installTesseractWrapper writes the tesseract wrapper the workers run
// (none without a tesseract on PATH: the document case then fails on its
// own).
func (d *devTopology) installTesseractWrapper(t *testing.T) {
	real, err := exec.LookPath("tesseract")
	if err != nil {
		return
	}
	if real, err = filepath.Abs(real); err != nil {
		t.Fatal(err)
	}
	d.tools, d.runs = filepath.Join(d.dir, "tools"), filepath.Join(d.dir, "tesseract-runs")
	for _, dir := range []string{d.tools, d.runs} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(d.tools, "tesseract"), fmt.Appendf(nil, tesseractWrapper, real), 0o755); err != nil {
		t.Fatal(err)
	}
}

// EncryptionKeysFile is the key ring of every process, with which the
// document case reads the OCR activities' heartbeats.
func (d *devTopology) EncryptionKeysFile() string { return d.ring }

// TesseractRuns lists the recognitions the workers' tesseract made.
func (d *devTopology) TesseractRuns() ([]TesseractRun, error) {
	if d.runs == "" {
		return nil, errors.New("no tesseract on PATH to wrap")
	}
	entries, err := os.ReadDir(d.runs)
	if err != nil {
		return nil, err
	}
	var runs []TesseractRun
	for _, e := range entries {
		// WORKER.UNIXNANO.PID.txt; the wrapper's temporary files start
		// with a dot.
		parts := strings.Split(e.Name(), ".")
		if len(parts) != 4 || parts[3] != "txt" {
			continue
		}
		var ns int64
		if _, err := fmt.Sscan(parts[1], &ns); err != nil {
			continue
		}
		text, err := os.ReadFile(filepath.Join(d.runs, e.Name()))
		if err != nil {
			return nil, err
		}
		runs = append(runs, TesseractRun{Worker: parts[0], Ended: time.Unix(0, ns), Text: string(text)})
	}
	return runs, nil
}

func (d *devTopology) APIKey() string { return d.key }

func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root not found")
		}
		dir = parent
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (d *devTopology) APIs() []string          { return []string{"api-1", "api-2"} }
func (d *devTopology) Workers() []string       { return []string{"worker-1", "worker-2"} }
func (d *devTopology) TemporalAddress() string { return fmt.Sprintf("127.0.0.1:%d", d.port) }
func (d *devTopology) Namespace() string       { return "default" }
func (d *devTopology) APIURLs() []string {
	return []string{fmt.Sprintf("http://127.0.0.1:%d", d.apiPorts[0]), fmt.Sprintf("http://127.0.0.1:%d", d.apiPorts[1])}
}

// env is the children's environment: this topology's Temporal and data
// folder, none of the caller's TEMPORAL_* or DOCKET_* settings.
func (d *devTopology) env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEMPORAL_") && !strings.HasPrefix(kv, "DOCKET_") {
			env = append(env, kv)
		}
	}
	// The API replicas and workers share the blob store under the data
	// folder; every worker serves every role.
	env = append(env, "TEMPORAL_ADDRESS="+d.TemporalAddress(), "TEMPORAL_NAMESPACE=default",
		"DOCKET_DATA_DIR="+d.dir, "DOCKET_WORKER_ROLES=all",
		"DOCKET_LOG_LEVEL=warn", "DOCKET_WORKER_STOP_TIMEOUT=10s")
	if d.ring != "" {
		env = append(env, "DOCKET_ENCRYPTION_KEYS_FILE="+d.ring)
	}
	// The run's webhook receiver listens on 127.0.0.1: the APIs accept it
	// as a notify URL and the workers deliver to it.
	env = append(env, "DOCKET_FETCH_ALLOW_HOSTS=127.0.0.1")
	return append(env, extra...)
}

func (d *devTopology) Start(ctx context.Context, name string) error {
	if _, err := d.Pid(ctx, name); err == nil {
		return nil
	}
	var cmd *exec.Cmd
	switch {
	case name == "temporal":
		cmd = exec.Command(d.cli, "server", "start-dev", "--headless",
			"--ip", "127.0.0.1", "--port", fmt.Sprint(d.port),
			"--db-filename", filepath.Join(d.dir, "temporal.db"),
			"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=NORMAL",
			"--search-attribute", job.StatusSearchAttribute+"=Keyword",
			"--search-attribute", job.TenantSearchAttribute+"=Keyword",
			"--dynamic-config-value", "matching.enableFairness=true",
			"--log-level", "error")
		cmd.Env = d.env()
	case strings.HasPrefix(name, "worker-"):
		cmd = exec.Command(d.worker)
		// One page at a time, three to a batch: the document case's
		// scanned PDF is shared out in batches on both workers whatever
		// the machine's cores, and a batch is caught with some of its
		// pages stored and others left.
		cmd.Env = d.env("DOCKET_OCR_PARALLELISM=1", "DOCKET_OCR_BATCH_PAGES=3",
			"DOCKET_WEBHOOK_SECRET_FILE="+d.hookSecretFile)
		if d.tools != "" {
			cmd.Env = append(cmd.Env, "PATH="+d.tools+string(os.PathListSeparator)+os.Getenv("PATH"),
				"CHAOS_WORKER="+name, "CHAOS_TESSERACT_RUNS="+d.runs)
		}
	case name == "api-1" || name == "api-2":
		port := d.apiPorts[0]
		if name == "api-2" {
			port = d.apiPorts[1]
		}
		cmd = exec.Command(d.api)
		cmd.Env = d.env(fmt.Sprintf("DOCKET_HTTP_ADDR=127.0.0.1:%d", port), "DOCKET_API_KEYS_FILE="+d.keysFile)
	default:
		return fmt.Errorf("unknown component %s", name)
	}
	logf, err := os.OpenFile(filepath.Join(d.dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	d.mu.Lock()
	d.procs[name] = p
	d.mu.Unlock()
	return d.waitReady(ctx, name, p)
}

func (d *devTopology) waitReady(ctx context.Context, name string, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	pid := p.cmd.Process.Pid
	for {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during start; log:\n%s", name, d.logTail(name))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready in time; log:\n%s", name, d.logTail(name))
		case <-time.After(200 * time.Millisecond):
		}
		switch {
		case name == "temporal":
			hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
			err := exec.CommandContext(hctx, d.cli, "operator", "cluster", "health", "--address", d.TemporalAddress()).Run()
			hcancel()
			if err == nil {
				return nil
			}
		case strings.HasPrefix(name, "worker-"):
			// Ready once Temporal lists it among the activity pollers.
			qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
			resp, err := d.temporal.DescribeTaskQueue(qctx, job.TaskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
			qcancel()
			if err == nil {
				for _, poller := range resp.GetPollers() {
					if strings.HasPrefix(poller.GetIdentity(), fmt.Sprintf("worker-%d@", pid)) {
						return nil
					}
				}
			}
		default:
			url := d.APIURLs()[0]
			if name == "api-2" {
				url = d.APIURLs()[1]
			}
			resp, err := http.Get(url + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
	}
}

func (d *devTopology) logTail(name string) string {
	b, _ := os.ReadFile(filepath.Join(d.dir, name+".log"))
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

func (d *devTopology) running(name string) *proc {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.procs[name]
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return nil
	default:
		return p
	}
}

func (d *devTopology) Pid(_ context.Context, name string) (int, error) {
	if p := d.running(name); p != nil {
		return p.cmd.Process.Pid, nil
	}
	return 0, fmt.Errorf("%s is not running", name)
}

func (d *devTopology) signal(name string, sig syscall.Signal, grace time.Duration) error {
	p := d.running(name)
	if p == nil {
		return fmt.Errorf("%s is not running", name)
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
		return fmt.Errorf("%s did not stop within %s and was killed", name, grace)
	case <-time.After(10 * time.Second):
		return errors.New(name + " survived SIGKILL")
	}
}

func (d *devTopology) Stop(_ context.Context, name string) error {
	return d.signal(name, syscall.SIGTERM, 40*time.Second)
}

func (d *devTopology) Kill(_ context.Context, name string) error {
	return d.signal(name, syscall.SIGKILL, 10*time.Second)
}

// killAll kills every process group the topology started.
func (d *devTopology) killAll() {
	d.mu.Lock()
	procs := make([]*proc, 0, len(d.procs))
	for _, p := range d.procs {
		procs = append(procs, p)
	}
	d.mu.Unlock()
	for _, p := range procs {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	for _, p := range procs {
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	}
}
