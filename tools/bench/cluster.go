package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

// The production topology of `make cluster`, driven by scenario 4: the
// harness starts it with cluster/cluster.sh in its scratch folder, on ports
// of its own, and stops it however the run ends.

const (
	clusterScript     = "cluster/cluster.sh"
	clusterTemporalYA = "cluster/config/temporal.yaml"
	clusterDynamicYA  = "cluster/config/dynamicconfig.yaml"
	clusterServerDir  = ".tools/temporal-server"
	clusterUIServer   = ".tools/temporal-ui/bin/server"
	clusterCLI        = ".tools/bin/temporal"
	// clusterStopTimeout bounds `cluster.sh stop`, which gives each of its
	// seven components up to 40 s before it kills them.
	clusterStopTimeout = 6 * time.Minute
)

// Cluster is a `make cluster` topology the harness started.
type Cluster struct {
	Root     string   // the repository: cluster.sh's ROOT, whose bin/ the cluster runs
	Data     string   // DOCKET_CLUSTER_DATA, in the scratch folder
	Temporal string   // the frontend's host:port
	APIURLs  []string // the API replicas
	APIKey   string   // the key they accept (cluster.sh serves with keys)
	Started  time.Duration
	Stopped  time.Duration
	env      []string // DOCKET_CLUSTER_* of every cluster.sh call
	log      string   // cluster.sh's output
	watchdog *exec.Cmd
	watchW   *os.File
	stopOnce sync.Once
	stopErr  error
	dialOnce sync.Once
	client   client.Client
}

// clusterSkip says why the cluster cannot be started here, or "" when it
// can. Missing binaries, or PostgreSQL when not root, skip the row rather
// than fail the run: they are prerequisites that `make cluster` installs,
// not faults.
func clusterSkip(root string) string {
	if _, err := os.Stat(filepath.Join(root, clusterScript)); err != nil {
		return fmt.Sprintf("skipped: %s not found in %s (run the harness from the repository root)", clusterScript, root)
	}
	for _, f := range []string{clusterServerDir + "/bin/server", clusterServerDir + "/bin/temporal-sql-tool", clusterUIServer} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			return "skipped: run `make cluster-tools` first (" + f + " is missing)"
		}
	}
	for _, f := range []string{clusterCLI, "bin/worker", "bin/docket-api"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			return "skipped: run `make tools build` first (" + f + ", which the cluster runs, is missing)"
		}
	}
	if pgBin("initdb") == "" && os.Geteuid() != 0 {
		// As root, cluster.sh installs it from Debian's packages, as `make
		// cluster` does; anyone else is told how.
		return "skipped: PostgreSQL is not installed and installing it needs root (`sudo apt-get install postgresql`, or `make cluster` as root)"
	}
	yaml, err := os.ReadFile(filepath.Join(root, clusterTemporalYA))
	if err != nil {
		return fmt.Sprintf("skipped: %v", err)
	}
	// The Temporal server's internal ports are literals in its config, which
	// cluster.sh cannot move: a cluster that already runs (a user's `make
	// cluster`) holds them, and a second one must not be started beside it.
	for _, p := range fixedPorts(yaml) {
		if !portFree(p) {
			return fmt.Sprintf("skipped (refused): port %d, fixed in %s, is in use; is `make cluster` running (`make cluster-status`)? "+
				"Stop it (`make cluster-stop`) to measure this row; the harness does not touch a running cluster", p, clusterTemporalYA)
		}
	}
	return ""
}

// pgBin is PostgreSQL's program name from the newest Debian install, as
// cluster.sh looks for it, or "".
func pgBin(name string) string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return pgMajor(b) - pgMajor(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, name)); err == nil {
			return filepath.Join(d, name)
		}
	}
	return ""
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

var fixedPortRE = regexp.MustCompile(`(?m)^\s*(?:grpcPort|membershipPort|httpPort):\s*(\d+)\s*(?:#.*)?$`)

// fixedPorts are the literal ports of the Temporal server's config (the
// templated ones, moved through the environment, are left out).
func fixedPorts(yaml []byte) []int {
	var ports []int
	for _, m := range fixedPortRE.FindAllSubmatch(yaml, -1) {
		if p, err := strconv.Atoi(string(m[1])); err == nil && !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// clusterPorts picks free ports for PostgreSQL, the frontend, the Web UI
// and two API replicas, none of them one of the fixed ones, so that the
// harness's cluster never takes the ports of a `make cluster` (15432,
// 17233, 18233, 18080, 18081 unless moved).
func clusterPorts(fixed []int) (pg, temporal, ui, codec int, apis [2]int, err error) {
	var got []int
	for len(got) < 6 {
		p, err := freePort()
		if err != nil {
			return 0, 0, 0, 0, apis, fmt.Errorf("pick a port: %w", err)
		}
		if !slices.Contains(got, p) && !slices.Contains(fixed, p) {
			got = append(got, p)
		}
	}
	return got[0], got[1], got[2], got[5], [2]int{got[3], got[4]}, nil
}

// serverVersionStamp is the Temporal server version `make cluster-tools`
// built, from its stamp file, or "" when it cannot tell.
func serverVersionStamp(root string) string {
	stamps, _ := filepath.Glob(filepath.Join(root, clusterServerDir, ".installed-*"))
	if len(stamps) != 1 {
		return ""
	}
	return strings.TrimPrefix(filepath.Base(stamps[0]), ".installed-")
}

// StartCluster runs `cluster.sh start` with its state in dir/cluster. On
// error the caller must still call Stop, which stops whatever started.
func StartCluster(ctx context.Context, root, dir string) (*Cluster, error) {
	c := &Cluster{Root: root, Data: filepath.Join(dir, "cluster"), log: filepath.Join(dir, "cluster-sh.log")}
	yaml, err := os.ReadFile(filepath.Join(root, clusterTemporalYA))
	if err != nil {
		return c, fmt.Errorf("read the cluster's config: %w", err)
	}
	pg, temporal, ui, codec, apis, err := clusterPorts(fixedPorts(yaml))
	if err != nil {
		return c, err
	}
	c.env = []string{
		"DOCKET_CLUSTER_DATA=" + c.Data,
		fmt.Sprintf("DOCKET_CLUSTER_PG_PORT=%d", pg),
		fmt.Sprintf("DOCKET_CLUSTER_TEMPORAL_PORT=%d", temporal),
		fmt.Sprintf("DOCKET_CLUSTER_UI_PORT=%d", ui),
		fmt.Sprintf("DOCKET_CLUSTER_API_PORTS=%d %d", apis[0], apis[1]),
		fmt.Sprintf("DOCKET_CLUSTER_CODEC_PORT=%d", codec),
		// As the dev-server rows' APIs; cluster.sh sets its workers' level itself.
		"DOCKET_LOG_LEVEL=warn",
	}
	metricsEnv, err := clusterMetricsEnv(append(fixedPorts(yaml), pg, temporal, ui, codec, apis[0], apis[1]))
	if err != nil {
		return c, err
	}
	c.env = append(c.env, metricsEnv...)
	if v := serverVersionStamp(root); v != "" {
		// The schema files cluster.sh applies must be the built server's.
		c.env = append(c.env, "TEMPORAL_SERVER_VERSION="+v)
	}
	if os.Geteuid() == 0 {
		// As root, cluster.sh runs PostgreSQL as the `postgres` user, which
		// must be able to reach its data folder inside the scratch folder
		// (created 0700): let others traverse it, not list it.
		if err := os.Chmod(dir, 0o711); err != nil {
			return c, fmt.Errorf("open the scratch folder to PostgreSQL: %w", err)
		}
	}
	if err := c.startWatchdog(); err != nil {
		return c, err
	}
	t0 := time.Now()
	if _, err := c.script(ctx, 0, "start"); err != nil {
		return c, err
	}
	c.Started = time.Since(t0)
	out, err := c.script(ctx, 30*time.Second, "env")
	if err != nil {
		return c, err
	}
	env := parseEnv(out)
	c.Temporal = env["TEMPORAL_ADDRESS"]
	c.APIURLs = strings.Fields(env["DOCKET_CLUSTER_API_URLS"])
	c.APIKey = env["DOCKET_CLUSTER_API_KEY"]
	if c.Temporal == "" || len(c.APIURLs) == 0 {
		return c, fmt.Errorf("cluster.sh env gave no addresses: %q", out)
	}
	return c, nil
}

// script runs cluster.sh with the cluster's environment and returns its
// stdout; stderr (its progress) goes to the cluster log. It runs in its own
// process group, so that Ctrl-C reaches only the harness, which then ends it
// with SIGTERM (cluster.sh's start stops what it started when it fails).
func (c *Cluster) script(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	logf, err := os.OpenFile(c.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return "", fmt.Errorf("cluster log: %w", err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== %s cluster.sh %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(args, " "))
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(c.Root, clusterScript)}, args...)...)
	cmd.Dir = c.Root
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdout = &out
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 90 * time.Second
	err = cmd.Run()
	logf.Write(out.Bytes())
	if err != nil {
		return out.String(), fmt.Errorf("cluster.sh %s: %w; its output (%s) ends:\n%s", strings.Join(args, " "), err, c.log, tailFile(c.log, 15))
	}
	return out.String(), nil
}

// startWatchdog starts a shell that runs `cluster.sh stop` if the harness
// dies without stopping the cluster (a second Ctrl-C exits at once, a
// SIGKILL runs no defer): the cluster's processes run in sessions of their
// own, so nothing else would end them. It waits on a pipe only the harness
// holds; an orderly Stop writes "done" and it exits without acting.
func (c *Cluster) startWatchdog() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("watchdog pipe: %w", err)
	}
	defer r.Close()
	logf, err := os.OpenFile(c.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		w.Close()
		return fmt.Errorf("cluster log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command("bash", "-c", `read -r line; [ "$line" = done ] && exit 0; echo "bench exited: stopping its cluster"; exec bash "$0" stop`,
		filepath.Join(c.Root, clusterScript))
	cmd.Dir = c.Root
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, logf, logf
	// Its own process group: Ctrl-C in the terminal must not end it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start the cluster watchdog: %w", err)
	}
	c.watchdog, c.watchW = cmd, w
	return nil
}

// Stop stops the cluster with `cluster.sh stop`, checks that none of its
// processes is left and ends the watchdog. It is safe to call more than
// once and after a failed start.
func (c *Cluster) Stop() error {
	if c == nil {
		return nil
	}
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	if c.client != nil {
		c.client.Close()
	}
	var errs []error
	if c.env != nil {
		t0 := time.Now()
		// Not the run's context: after Ctrl-C the cluster must still stop.
		ctx, cancel := context.WithTimeout(context.Background(), clusterStopTimeout)
		_, err := c.script(ctx, 0, "stop")
		cancel()
		c.Stopped = time.Since(t0)
		errs = append(errs, err)
		errs = append(errs, c.killLeftovers())
	}
	if c.watchdog != nil {
		// Written before the pipe closes: the watchdog exits without acting.
		_, _ = c.watchW.WriteString("done\n")
		c.watchW.Close()
		if err := c.watchdog.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("cluster watchdog: %w", err))
		}
	}
	return errors.Join(errs...)
}

// killLeftovers finds processes that still carry the cluster's data folder
// in their environment or command line (every component gets
// DOCKET_CLUSTER_DATA or DOCKET_DATA_DIR from cluster.sh, PostgreSQL its -D)
// after the stop: the folder is unique to this run, so they are this run's.
// It kills them by pid and reports them.
func (c *Cluster) killLeftovers() error {
	skip := []int{os.Getpid()}
	if c.watchdog != nil && c.watchdog.Process != nil {
		skip = append(skip, c.watchdog.Process.Pid)
	}
	left := procsMentioning(c.Data, skip...)
	if len(left) == 0 {
		return nil
	}
	var names []string
	for _, pid := range left {
		names = append(names, fmt.Sprintf("%d (%s)", pid, procCmdline(pid)))
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			slog.Warn("cannot kill a cluster process left running", "pid", pid, "err", err)
		}
	}
	slog.Warn("cluster processes left running after cluster.sh stop; killed them", "pids", names)
	return fmt.Errorf("cluster.sh stop left %d processes running, killed: %s", len(left), strings.Join(names, ", "))
}

// procsMentioning lists the processes whose environment or command line
// contains marker, except those in skip. Processes it may not read are
// left out.
func procsMentioning(marker string, skip ...int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || slices.Contains(skip, pid) {
			continue
		}
		for _, f := range []string{"environ", "cmdline"} {
			b, err := os.ReadFile(filepath.Join(d, f))
			if err == nil && bytes.Contains(b, []byte(marker)) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

func procCmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// parseEnv reads KEY=VALUE lines (cluster.sh env).
func parseEnv(out string) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && k != "" && !strings.ContainsAny(k, " \t") {
			env[k] = v
		}
	}
	return env
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// diagnose explains a failed job from the cluster's history, as the
// dev-server rows do from theirs.
func (c *Cluster) diagnose(ctx context.Context, log *slog.Logger, err error) string {
	c.dialOnce.Do(func() {
		cl, derr := client.Dial(client.Options{HostPort: c.Temporal, Namespace: "default", Logger: tlog.NewStructuredLogger(log)})
		if derr != nil {
			slog.Warn("cannot dial the cluster to diagnose a job", "addr", c.Temporal, "err", derr)
			return
		}
		c.client = cl
	})
	if c.client == nil {
		return ""
	}
	return diagnose(ctx, c.client, err)
}

// pgSettings reads PostgreSQL's version and the settings that decide what
// a commit survives, from the cluster's own server (over its private
// socket, as its superuser: initdb's trust authentication).
func (c *Cluster) pgSettings(ctx context.Context) (map[string]string, error) {
	psql := pgBin("psql")
	if psql == "" {
		return nil, errors.New("psql not found")
	}
	port := ""
	for _, kv := range c.env {
		if v, ok := strings.CutPrefix(kv, "DOCKET_CLUSTER_PG_PORT="); ok {
			port = v
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	q := "SELECT name, setting FROM pg_settings WHERE name IN ('fsync','synchronous_commit','full_page_writes','wal_sync_method') " +
		"UNION ALL SELECT 'server_version', current_setting('server_version')"
	cmd := exec.CommandContext(ctx, psql, "-h", filepath.Join(c.Data, "pgsock"), "-p", port, "-U", "postgres", "-d", "postgres",
		"-X", "-v", "ON_ERROR_STOP=1", "-tAq", "-F", "=", "-c", q)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("psql: %w: %s", err, bytes.TrimSpace(out))
	}
	return parseEnv(string(out)), nil
}

// pgRisk says what a PostgreSQL server with settings s risks, in the words
// of the SQLite rows.
func pgRisk(s map[string]string) string {
	on := func(k string) string { return "`" + k + "=" + s[k] + "`" }
	var r string
	switch {
	case s["fsync"] == "":
		return "PostgreSQL's defaults (`fsync=on`, `synchronous_commit=on`; cluster.sh sets neither) risk nothing short of disk loss, " +
			"but this run could not read the server's settings"
	case s["fsync"] != "on":
		r = "an OS crash or power loss can corrupt the database (" + on("fsync") + ")"
	case s["synchronous_commit"] == "off":
		r = "a crash of PostgreSQL or of the OS can lose the last commits, never corrupt the database (" + on("fsync") + ", " + on("synchronous_commit") + ")"
	default:
		// on, local, remote_write, remote_apply: with no standby, each
		// flushes the commit's WAL record to disk before acknowledging it.
		r = "nothing short of disk loss: " + on("fsync") + ", " + on("synchronous_commit") + ", " +
			"every commit's WAL record is flushed to disk (" + on("wal_sync_method") + ") before it is acknowledged"
	}
	if s["full_page_writes"] == "off" {
		r += "; a power loss can leave torn pages (" + on("full_page_writes") + ")"
	}
	return r
}

var numShardsRE = regexp.MustCompile(`(?m)^\s*numHistoryShards:\s*(\d+)`)

// numHistoryShards is the shard count of the server's config, or "".
func numHistoryShards(yaml []byte) string {
	if m := numShardsRE.FindSubmatch(yaml); m != nil {
		return string(m[1])
	}
	return ""
}

var (
	dcKeyRE   = regexp.MustCompile(`^([A-Za-z][\w.\-]*):\s*(?:#.*)?$`)
	dcValueRE = regexp.MustCompile(`^\s*-\s*value:\s*(.*?)\s*(?:#.*)?$`)
	dcConstRE = regexp.MustCompile(`^\s*-?\s*constraints:`)
)

// dynamicConfig lists a Temporal dynamic config file's settings as
// KEY=VALUE (several values of one key, which apply under different
// constraints, are joined with " | ").
func dynamicConfig(yaml []byte) []string {
	type entry struct {
		key         string
		values      []string
		constrained bool
	}
	var es []*entry
	for _, line := range strings.Split(string(yaml), "\n") {
		if m := dcKeyRE.FindStringSubmatch(line); m != nil {
			es = append(es, &entry{key: m[1]})
			continue
		}
		if len(es) == 0 {
			continue
		}
		e := es[len(es)-1]
		if m := dcValueRE.FindStringSubmatch(line); m != nil {
			e.values = append(e.values, strings.Trim(m[1], `"'`))
		} else if dcConstRE.MatchString(line) {
			e.constrained = true
		}
	}
	var out []string
	for _, e := range es {
		s := e.key + "=" + strings.Join(e.values, " | ")
		if e.constrained {
			s += " (with constraints)"
		}
		out = append(out, s)
	}
	return out
}

// untunedKeys are the keys of tuning t that the dynamic config dc does not set.
func untunedKeys(t Tuning, dc []string) []string {
	var out []string
	for _, v := range t.Values {
		k, _, _ := strings.Cut(v, "=")
		if !slices.ContainsFunc(dc, func(s string) bool { return strings.HasPrefix(s, k+"=") }) {
			out = append(out, k)
		}
	}
	return out
}

// clusterSettings describes the cluster's Temporal settings from
// cluster/config: its shards, its dynamic config, and which of the
// dev-server rows' tuning it lacks.
func clusterSettings(root string) string {
	var parts []string
	if yaml, err := os.ReadFile(filepath.Join(root, clusterTemporalYA)); err == nil {
		if n := numHistoryShards(yaml); n != "" {
			parts = append(parts, "`numHistoryShards: "+n+"` ("+clusterTemporalYA+")")
		}
	}
	yaml, err := os.ReadFile(filepath.Join(root, clusterDynamicYA))
	if err != nil {
		parts = append(parts, fmt.Sprintf("dynamic config unread: %v", err))
		return strings.Join(parts, "; ")
	}
	dc := dynamicConfig(yaml)
	parts = append(parts, "dynamic config "+joinCode(dc)+" ("+clusterDynamicYA+")")
	if k := untunedKeys(tuningFast, dc); len(k) > 0 {
		parts = append(parts, "none of the dev servers' tuning: Temporal's defaults for "+joinCode(k))
	}
	return strings.Join(parts, "; ")
}

var workerLogRE = regexp.MustCompile(`DOCKET_LOG_LEVEL=(\w+)\s+"\$BIN/worker"`)

// workerLogLevel is the log level cluster.sh gives its workers, as a code span.
func workerLogLevel(root string) string {
	b, err := os.ReadFile(filepath.Join(root, clusterScript))
	if err != nil {
		return "at the log level cluster.sh sets"
	}
	if m := workerLogRE.FindSubmatch(b); m != nil {
		return "`DOCKET_LOG_LEVEL=" + string(m[1]) + "`"
	}
	return "with the default log level"
}
