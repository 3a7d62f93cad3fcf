package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// durRow is one row of scenario 4: a storage setting and how to run jobs on it.
type durRow struct {
	name     string // in the table
	label    string // in the progress lines
	settings string
	risk     string
	fire     func(context.Context) error
	diag     func(context.Context, error) string
	totals   sideTotals
}

// durabilityScenario runs scenario 2's API workload on one server per
// storage setting, all with make run's dynamic config, rotating among them block
// by block; and on the production topology of `make cluster` (PostgreSQL),
// as it is configured, in the same rotation.
func durabilityScenario(ctx context.Context, b *Bench, sec *Section) (err error) {
	storages := []Storage{storageMemory, storageFileDefault, storageFileWAL, storageFileWALFull}
	if b.Set.Short {
		storages = storages[:3]
	}

	// The cluster first: it takes the longest to start, and if it cannot,
	// the SQLite rows are still measured.
	pg := startPGRow(ctx, b)
	defer func() {
		if serr := pg.stop(); serr != nil {
			err = errors.Join(err, fmt.Errorf("stop the cluster: %w", serr))
		}
	}()
	if ctx.Err() != nil {
		return ctx.Err()
	}

	var specs []stackSpec
	for i, stg := range storages {
		specs = append(specs, stackSpec{name: fmt.Sprintf("dur%d-%s", i, stg.Name), storage: stg, tuning: tuningFast})
	}
	stacks, err := b.Env.startStacks(ctx, specs)
	if err != nil {
		return err
	}
	defer stopStacks(stacks)
	var rows []*durRow
	for i, stg := range storages {
		st := stacks[i]
		rows = append(rows, &durRow{name: stg.Name, label: stg.Name, settings: joinCode(stg.Pragmas), risk: stg.Risk,
			fire: side{stg.Name, newAPIJobs(st.APIURL).run}.fire,
			diag: func(ctx context.Context, err error) string { return diagnose(ctx, st.client, err) }})
	}
	if pg.row != nil {
		rows = append(rows, pg.row)
	}
	for _, r := range rows {
		if x := closedLoop(ctx, b.Set.TrivialConc, b.Set.TrivialConc, r.fire); x.Lat.Errors() > 0 {
			return fmt.Errorf("warm-up %s: %w", r.label, x.Lat.FirstError())
		}
	}
	for blk := range b.Set.DurabilityBlocks * 2 {
		for k := range rows {
			// Forward, then backward: A B C D E E D C B A …
			r := rows[k]
			if blk%2 == 1 {
				r = rows[len(rows)-1-k]
			}
			x := closedLoop(ctx, b.Set.TrivialConc, b.Set.DurabilityJobs/2, r.fire)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.totals.lat.Merge(x.Lat)
			r.totals.elapsed += x.Elapsed
			r.totals.blocks = append(r.totals.blocks, x.PerSecond())
			fmt.Printf("   %-18s block %d: %4d jobs, %6.1f jobs/s, errors %d\n", r.label, blk+1, x.Lat.N(), x.PerSecond(), x.Lat.Errors())
		}
	}
	letters := ""
	for i := range rows {
		letters += string(rune('A'+i)) + " "
	}
	order := letters + strings.TrimSpace(reverseWords(letters))
	sec.Para("Scenario 2's API workload (%d concurrent clients, `POST /jobs` then wait for the result) on one dev server per storage setting, all with make run's dynamic config, "+
		"each with its own worker and API; %d blocks of %d jobs per setting, in turn %s …. The SQLite files are on the scratch folder's file system (`%s`).",
		b.Set.TrivialConc, b.Set.DurabilityBlocks*2, b.Set.DurabilityJobs/2, order, fsOf(b.Env.Dir))
	if pg.row != nil {
		sec.Para("The PostgreSQL row runs the same blocks, in the same rotation, against `make cluster`'s topology as `cluster/cluster.sh start` brings it up, "+
			"with its data folder (`DOCKET_CLUSTER_DATA`) in the scratch folder and ports of its own, so that a user's `.data/cluster` is not touched (it took %s to start): "+
			"%s on PostgreSQL %s, with the Temporal Web UI (idle), two workers (`worker-1`, `worker-2`, each serving every role, %s as cluster.sh starts them) "+
			"and two API replicas (`api-1`, `api-2`, `DOCKET_LOG_LEVEL=warn` as the dev servers' APIs). "+
			"The clients use both replicas round robin: job *n* is submitted to and awaited on replica *n* mod 2, as a load balancer would spread them. "+
			"The cluster runs with `cluster/config`'s Temporal settings (in the table), not the dev servers' tuning: the row compares the production topology as shipped, not storage alone.",
			pg.cluster.Started.Round(time.Second), pg.temporal, pg.pgVersion, pg.workerLog)
	}
	mem := rows[0].totals.median()
	t := &Table{Header: []string{"storage", "pragmas / settings", "jobs", "errors", "jobs/s (all blocks)", "per block", "median block jobs/s", "p50 ms", "p99 ms", "vs memory", "what it risks"}}
	for _, r := range rows {
		x := &r.totals
		t.Add(r.name, r.settings, fmt.Sprint(x.lat.N()), fmt.Sprint(x.lat.Errors()), fmt.Sprintf("%.1f", x.perSecond()),
			fmtRates(x.blocks), fmt.Sprintf("%.1f", x.median()), ms(x.lat.P(0.5)), ms(x.lat.P(0.99)), ratio(x.median(), mem), r.risk)
	}
	if pg.row == nil {
		t.Add(pgRowName, pg.settings, "-", "-", "-", "-", "-", "-", "-", "-", pg.note)
	}
	sec.Table(t)
	for _, r := range rows {
		if ferr := r.totals.lat.FirstError(); ferr != nil {
			sec.Para("%d errors on %s; the first: `%v`", r.totals.lat.Errors(), r.name, strings.TrimSpace(ferr.Error()))
			if d := r.diag(ctx, ferr); d != "" {
				sec.Para("Its history: %s", d)
			}
		}
	}
	sec.Para("`make run` keeps WAL with `synchronous=NORMAL`: a job accepted with 202 survives a crash or restart of the server, worker or API process, which is the failure the README promises to survive; " +
		"only an OS crash or power loss may lose the last commits, which a laptop-scale local stack accepts. `synchronous=FULL` on WAL closes that gap too at the cost shown, " +
		"and is the setting to use where the host itself may crash; the rollback journal (SQLite's default) pays more fsyncs per commit for no extra safety over WAL+FULL.")
	if pg.row != nil {
		// Stopped here rather than by the deferred stop, so that its time is
		// in the report; the deferred call then does nothing.
		if serr := pg.stop(); serr != nil {
			return fmt.Errorf("stop the cluster: %w", serr)
		}
		sec.Para("The cluster was stopped with `cluster/cluster.sh stop` in %s; no process of it was left running.", pg.cluster.Stopped.Round(time.Second))
	}
	return pg.err
}

func reverseWords(s string) string {
	w := strings.Fields(s)
	for i, j := 0, len(w)-1; i < j; i, j = i+1, j-1 {
		w[i], w[j] = w[j], w[i]
	}
	return strings.Join(w, " ")
}

const pgRowName = "PostgreSQL (`make cluster`)"

// pgRun is scenario 4's PostgreSQL row: the cluster and its row when it
// runs, or why it does not.
type pgRun struct {
	cluster   *Cluster
	row       *durRow // nil when not measured
	note      string  // why not ("skipped: …", "failed: …")
	err       error   // a start failure, which fails the scenario once the other rows are measured
	settings  string
	temporal  string
	pgVersion string
	workerLog string // the workers' log level in cluster.sh
	stopped   bool
}

// startPGRow starts the cluster, unless the run is short or the cluster
// cannot run here, and builds its row.
func startPGRow(ctx context.Context, b *Bench) *pgRun {
	root, err := os.Getwd()
	if err != nil {
		return &pgRun{note: fmt.Sprintf("skipped: %v", err)}
	}
	pg := &pgRun{settings: clusterSettings(root)}
	if b.Set.Short {
		pg.note = "skipped in `-short` mode: starting and stopping the cluster would dominate `make bench-short`; `make bench` measures it"
		return pg
	}
	if skip := clusterSkip(root); skip != "" {
		pg.note = skip
		slog.Warn("scenario 4: PostgreSQL row " + skip)
		return pg
	}
	fmt.Printf("   starting the cluster: %s start (state in %s)\n", clusterScript, b.Env.Dir)
	pg.cluster, err = StartCluster(ctx, root, b.Env.Dir)
	if err != nil {
		if ctx.Err() == nil {
			first, _, _ := strings.Cut(err.Error(), "\n")
			pg.note = "failed: the cluster did not start (`" + first + "`); cluster.sh's output is in the scratch folder, kept"
			pg.err = fmt.Errorf("start the cluster: %w", err)
		}
		return pg
	}
	fmt.Printf("   cluster up in %s: Temporal %s, APIs %s\n", pg.cluster.Started.Round(time.Second), pg.cluster.Temporal, strings.Join(pg.cluster.APIURLs, " "))
	pg.temporal = "Temporal server " + strings.TrimPrefix(serverVersion(root+"/"+clusterServerDir+"/bin/server"), "temporal version ")
	pg.workerLog = workerLogLevel(root)
	risk := ""
	if s, err := pg.cluster.pgSettings(ctx); err != nil {
		slog.Warn("cannot read the cluster's PostgreSQL settings", "err", err)
		risk = pgRisk(nil)
		pg.pgVersion = "(version unread)"
	} else {
		risk = pgRisk(s)
		pg.pgVersion = s["server_version"]
	}
	risk += "; the shard count and the dynamic config (settings column) change nothing of what is written or when"
	var apis []*apiJobs
	for _, u := range pg.cluster.APIURLs {
		apis = append(apis, newAPIJobs(u).withKey(pg.cluster.APIKey))
	}
	var next atomic.Uint64
	cl, log := pg.cluster, b.Env.Log
	pg.row = &durRow{name: pgRowName, label: "postgres-cluster", settings: pg.temporal + " on PostgreSQL " + pg.pgVersion + "; " + pg.settings, risk: risk,
		fire: func(ctx context.Context) error {
			_, err := apis[(next.Add(1)-1)%uint64(len(apis))].run(ctx)
			return err
		},
		diag: func(ctx context.Context, err error) string { return cl.diagnose(ctx, log, err) }}
	return pg
}

// stop stops the cluster if one was started; only the first call reports
// an error, so that the deferred call does not repeat the explicit one's.
func (pg *pgRun) stop() error {
	if pg.cluster == nil || pg.stopped {
		return nil
	}
	pg.stopped = true
	return pg.cluster.Stop()
}

// fsOf names the file system type of dir, from /proc/mounts.
func fsOf(dir string) string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "unknown"
	}
	best, fs := "", "unknown"
	for _, line := range regexp.MustCompile(`\n`).Split(string(b), -1) {
		var dev, mnt, typ string
		if n, _ := fmt.Sscan(line, &dev, &mnt, &typ); n == 3 && len(mnt) > len(best) && (dir == mnt || len(dir) > len(mnt) && dir[:len(mnt)] == mnt && (mnt == "/" || dir[len(mnt)] == '/')) {
			best, fs = mnt, typ+" on "+mnt
		}
	}
	return fs
}
