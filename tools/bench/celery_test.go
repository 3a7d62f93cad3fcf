package bench

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/tools/teststack"
)

// scripts/bench-deps.sh installs the packages findCelery names.
func TestBenchDepsInstallCeleryPackages(t *testing.T) {
	b, err := os.ReadFile("../../scripts/bench-deps.sh")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^PACKAGES=\(([^)]*)\)`).FindSubmatch(b)
	require.NotNil(t, m, "bench-deps.sh has no PACKAGES=(…)")
	require.Equal(t, celeryPackages, strings.Fields(string(m[1])))
	mk, err := os.ReadFile("../../mk/bench.mk")
	require.NoError(t, err)
	for _, target := range []string{"bench", "bench-short"} {
		require.Regexp(t, `(?m)^`+target+`:.*\bbench-deps\b`, string(mk), "make %s installs the Celery stack", target)
	}
}

// The driver's block output becomes a closed loop's result: latencies,
// errors with the first one's message, and the elapsed time.
func TestParseBlock(t *testing.T) {
	r, err := parseBlock([]byte(`{"lat_ns": [1000000, 3000000], "errors": 2, "first_error": "TimeoutError: late", "elapsed_ns": 2000000000}`))
	require.NoError(t, err)
	require.Equal(t, 2, r.Lat.N())
	require.Equal(t, 2, r.Lat.Errors())
	require.EqualError(t, r.Lat.FirstError(), "TimeoutError: late")
	require.Equal(t, 3*time.Millisecond, r.Lat.P(0.99))
	require.InDelta(t, 1.0, r.PerSecond(), 1e-9)

	r, err = parseBlock([]byte(`{"lat_ns": [], "errors": 0, "first_error": null, "elapsed_ns": 5}`))
	require.NoError(t, err)
	require.Zero(t, r.Lat.N())
	require.NoError(t, r.Lat.FirstError())

	_, err = parseBlock([]byte("Traceback (most recent call last):"))
	require.Error(t, err)
}

// A tiny run of scenarios 12 and 13 on real processes, so that the
// harness cannot rot unnoticed: the seed's Celery stack and Docket each run
// trivial jobs, and each loses a worker process mid-task. Skipped, saying
// why, where Debian's python3-celery and redis-server are not installed
// (`make bench` installs them; `make test` does not).
func TestCeleryScenariosTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dev servers, Docket's processes, Redis and Celery")
	}
	tools, err := findCelery()
	if err != nil {
		t.Skipf("the Celery side cannot run here: %v", err)
	}
	cli, err := teststack.CLIPath()
	require.NoError(t, err)
	bin := t.TempDir()
	for _, b := range []struct{ out, pkg string }{{"worker", "./worker"}, {"docket-api", "./api/cmd/docket-api"}} {
		// The Makefile's build target's builds.
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, b.out), b.pkg)
		cmd.Dir = filepath.Join("..", "..")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go build %s:\n%s", b.pkg, out)
	}
	t.Cleanup(stopAll)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env := &Env{Dir: t.TempDir(), Temporal: cli, Bin: bin, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	t.Run("throughput", func(t *testing.T) {
		totals, err := compareCelery(ctx, env, Settings{TrivialBlocks: 2, TrivialJobs: 5, TrivialConc: 2}, tools)
		require.NoError(t, err)
		for _, path := range celeryPaths {
			x := totals[path]
			require.NoError(t, x.lat.FirstError(), path)
			require.Equal(t, 10, x.lat.N(), "%s: every job of both blocks", path)
			require.Len(t, x.blocks, 2, path)
		}
	})

	t.Run("loss", func(t *testing.T) {
		const jobs = 5
		res, err := runLoss(ctx, env, tools, jobs, 2*time.Second)
		require.NoError(t, err)

		d := res.docket
		require.Positive(t, d.onVictim, "the killed worker ran jobs")
		require.Equal(t, jobs, d.completed, "Docket completes every job: the killed worker's on the other")
		require.Equal(t, d.onVictim, d.twice, "each of the killed worker's jobs ran twice, no other did")
		require.Equal(t, jobs+d.onVictim, d.execs)
		require.Zero(t, d.servedTwo, "a killed execution never got its answer")

		c := res.celery
		require.Equal(t, 1, c.onVictim, "a pool process runs one task at a time")
		require.Equal(t, jobs, c.completed+c.failed+c.unknown)
		require.Equal(t, jobs, c.execs+c.unknown, "every job's body started once, unless it never got an outcome")
		require.Zero(t, c.twice, "with a pool process killed, Celery does not run the task again")
		require.Equal(t, c.onVictim, c.failed+c.unknown, "the killed process's task is the one lost")
	})

	// Nothing the scenarios started outlives them.
	procs.Lock()
	defer procs.Unlock()
	for _, p := range procs.list {
		require.True(t, p.Exited(), "%s still runs", p.Name)
	}
}
