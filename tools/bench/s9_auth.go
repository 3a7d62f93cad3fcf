package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

const (
	authKeys = "keys file, tenant key"
	authOpen = "no keys file (loopback)"
)

// authTargetGap is how far apart scenario 9's sides may be.
const authTargetGap = 0.05

// authScenario measures what API keys cost: scenario 3's latency floor and
// scenario 2's trivial-job throughput through two APIs on the same server
// and worker, one with a keys file (requests carry a tenant's key, jobs
// its tenant) and one without (loopback, no authentication), in
// alternating blocks.
func authScenario(ctx context.Context, b *Bench, sec *Section) error {
	keys, err := newBenchKeys(tenantA)
	if err != nil {
		return err
	}
	env, err := writeKeysFile(filepath.Join(b.Env.Dir, "keys-auth.json"), keys)
	if err != nil {
		return err
	}
	s, err := b.Env.StartServer(ctx, "auth", storageFileWAL, tuningFast)
	if err != nil {
		return err
	}
	defer s.Stop()
	st, err := b.Env.StartStack(ctx, s, "docket", true)
	if err != nil {
		return err
	}
	defer st.Stop()
	keyed, keyedURL, err := b.Env.StartAPI(ctx, s, "docket", "auth-keys", []string{env})
	if err != nil {
		return err
	}
	defer keyed.Stop(10 * time.Second)
	sides := []*apiSide{
		{name: authKeys, api: newAPIJobs(keyedURL).withKey(secretOf(keys, tenantA))},
		{name: authOpen, api: newAPIJobs(st.APIURL)},
	}
	set := b.Set
	if err := compareAPIs(ctx, set, set.AuthRounds, sides); err != nil {
		return err
	}
	authReport(b, sec, set, sides)
	return nil
}

// authReport writes scenario 9's section from its sides (with keys, then
// without) and records its targets.
func authReport(b *Bench, sec *Section, set Settings, sides []*apiSide) {
	keysSide, open := sides[0], sides[1]
	sec.Para("Two bin/docket-api processes on the same dev server (make run's settings) and the same bin/worker: one with `DOCKET_API_KEYS_FILE` (a keys file of one key, tenant `a`; "+
		"every request carries `Authorization: Bearer <secret>`, so each pays the key's SHA-256 and constant-time comparison, and every job carries the `DocketTenant` search attribute "+
		"and its tenant as fairness key, which this server, with fairness off, does not use), one without a keys file, on loopback, which serves without authentication. "+
		"**Floor:** one trivial job at a time as scenario 3 runs them (`POST /jobs` then `GET /jobs/{id}/results?wait=30s`), %d blocks of %d jobs per API in turn A B B A …, "+
		"of which the first %d of each block are not counted. **Throughput:** scenario 2's load, %d blocks of %d jobs per API with %d concurrent clients, in turn A B B A …; "+
		"ratios compare median blocks. Target: the two within %.0f%% of each other.",
		set.AuthRounds*2, set.FloorBlock, set.FloorSkip, set.TrivialBlocks, set.TrivialJobs, set.TrivialConc, 100*authTargetGap)
	floorT := b.target("9", fmt.Sprintf("latency floor (p50) with a keys file within %.0f%% of without", 100*authTargetGap),
		fmt.Sprintf("%s vs %s ms (%s×)", ms(keysSide.floor.P(0.5)), ms(open.floor.P(0.5)), ratio(float64(keysSide.floor.P(0.5)), float64(open.floor.P(0.5)))),
		withinGap(float64(keysSide.floor.P(0.5)), float64(open.floor.P(0.5)), authTargetGap))
	thrT := b.target("9", fmt.Sprintf("trivial-job throughput with a keys file within %.0f%% of without (median blocks)", 100*authTargetGap),
		fmt.Sprintf("%.1f vs %.1f jobs/s (%s×)", keysSide.totals.median(), open.totals.median(), ratio(keysSide.totals.median(), open.totals.median())),
		withinGap(keysSide.totals.median(), open.totals.median(), authTargetGap))
	t := &Table{Header: []string{"API", "floor jobs", "floor p50 ms", "floor p99 ms", "POST /jobs p50 ms", "floor p50 vs no keys",
		"throughput jobs", "errors", "jobs/s per block", "median block jobs/s", "p50 ms", "p99 ms", "throughput vs no keys"}}
	for _, x := range sides {
		fv, tv := "", ""
		if x == keysSide {
			fv = ratio(float64(x.floor.P(0.5)), float64(open.floor.P(0.5))) + " (" + floorT + ")"
			tv = ratio(x.totals.median(), open.totals.median()) + " (" + thrT + ")"
		}
		t.Add(x.name, fmt.Sprint(x.floor.N()), ms(x.floor.P(0.5)), ms(x.floor.P(0.99)), ms(x.post.P(0.5)), fv,
			fmt.Sprint(x.totals.lat.N()), fmt.Sprint(x.totals.lat.Errors()), fmtRates(x.totals.blocks), fmt.Sprintf("%.1f", x.totals.median()),
			ms(x.totals.lat.P(0.5)), ms(x.totals.lat.P(0.99)), tv)
	}
	sec.Table(t)
	for _, x := range sides {
		if err := x.totals.lat.FirstError(); err != nil {
			sec.Para("%d errors on %s; the first: `%v`", x.totals.lat.Errors(), x.name, strings.TrimSpace(err.Error()))
		}
	}
}
