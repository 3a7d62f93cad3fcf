package bench

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/docket-dev/docket/internal/auth"
)

// The harness writes keys files without linking internal/auth: the files
// must be what the API's own parser and keyring accept, for the tenants
// and scopes the scenarios rely on.
func TestKeysFileIsWhatTheAPIReads(t *testing.T) {
	keys, err := newBenchKeys(tenantA, tenantB)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	require.NotEqual(t, keys[0].Secret, keys[1].Secret)

	path := filepath.Join(t.TempDir(), "keys.json")
	env, err := writeKeysFile(path, keys)
	require.NoError(t, err)
	require.Equal(t, "DOCKET_API_KEYS_FILE="+path, env)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	parsed, err := auth.Parse(data)
	require.NoError(t, err)
	require.Len(t, parsed, 2)

	ring, err := auth.Open(path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	defer ring.Close()
	for i, k := range keys {
		require.True(t, strings.HasPrefix(k.Secret, auth.SecretPrefix), k.Secret)
		require.Equal(t, auth.HashSecret(k.Secret), hashSecret(k.Secret))
		require.Equal(t, auth.HashSecret(k.Secret), parsed[i].SHA256)
		require.NotContains(t, string(data), k.Secret, "the file holds hashes only")

		p, err := ring.Authenticate("Bearer "+k.Secret, time.Now())
		require.NoError(t, err)
		require.Equal(t, k.Tenant, p.Tenant)
		require.False(t, p.Admin(), "a tenant's key, not an admin's")
		for _, s := range []auth.Scope{auth.ScopeJobsRead, auth.ScopeJobsWrite} {
			require.True(t, p.Has(s), s)
		}
		require.Equal(t, 1, p.MaxPriority, "scenario 8 asks for priority 1")
		require.Zero(t, p.MaxOpenJobs)
		ok, _ := p.Allow(time.Now())
		require.True(t, ok)
		require.Equal(t, k.Secret, secretOf(keys, k.Tenant))
	}
	require.Empty(t, secretOf(keys, "nobody"))

	// An empty list is still a keys file (every key revoked), not a null.
	b, err := keysFileJSON(nil)
	require.NoError(t, err)
	_, err = auth.Parse(b)
	require.NoError(t, err)
}

func TestDrainedFraction(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	closes := []time.Time{at(10), at(20), at(30), at(40)}
	require.Equal(t, 0.0, drainedFraction(closes, at(5)))
	require.Equal(t, 0.25, drainedFraction(closes, at(10)), "a close at the instant counts")
	require.Equal(t, 0.5, drainedFraction(closes, at(29)))
	require.Equal(t, 1.0, drainedFraction(closes, at(40)))
	require.Equal(t, 0.0, drainedFraction(nil, at(40)))
	require.Equal(t, 0.5, drainedFraction([]time.Time{{}, at(1)}, at(2)), "an unknown close is not drained")
	require.Equal(t, at(40), latest([]time.Time{at(30), at(40), at(10)}))
	require.True(t, latest(nil).IsZero())
}

// The percentiles the scenarios report are by nearest rank: p99 of a few
// jobs is their maximum.
func TestSamplePercentiles(t *testing.T) {
	var s Sample
	require.Zero(t, s.P(0.5))
	for i := 100; i >= 1; i-- {
		s.Add(time.Duration(i) * time.Millisecond)
	}
	require.Equal(t, 50*time.Millisecond, s.P(0.5))
	require.Equal(t, 99*time.Millisecond, s.P(0.99))
	require.Equal(t, 100*time.Millisecond, s.P(1))
	require.Equal(t, time.Millisecond, s.P(0))

	var few Sample
	addAll(&few, []time.Duration{3 * time.Millisecond, time.Millisecond, 9 * time.Millisecond, 5 * time.Millisecond})
	require.Equal(t, 4, few.N())
	require.Equal(t, 3*time.Millisecond, few.P(0.5))
	require.Equal(t, 9*time.Millisecond, few.P(0.99))

	require.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
	require.Equal(t, 3*time.Millisecond, medianDur([]time.Duration{5 * time.Millisecond, time.Millisecond, 3 * time.Millisecond}))
	require.Zero(t, medianDur(nil))
}

func TestTargetsOfTenantScenarios(t *testing.T) {
	require.True(t, fairnessMet(300*time.Millisecond, 100*time.Millisecond))
	require.False(t, fairnessMet(301*time.Millisecond, 100*time.Millisecond))
	require.False(t, fairnessMet(time.Millisecond, 0), "no idle figure, no verdict of met")

	require.True(t, withinGap(104, 100, 0.05))
	require.True(t, withinGap(96, 100, 0.05))
	require.False(t, withinGap(106, 100, 0.05))
	require.False(t, withinGap(94, 100, 0.05))
	require.False(t, withinGap(1, 0, 0.05))
}

func TestTimesOfHistory(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(id int64, typ enumspb.EventType, ms int) *historypb.HistoryEvent {
		return &historypb.HistoryEvent{EventId: id, EventType: typ, EventTime: timestamppb.New(t0.Add(time.Duration(ms) * time.Millisecond))}
	}
	wftStarted := func(id, sched int64, ms int) *historypb.HistoryEvent {
		e := ev(id, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, ms)
		e.Attributes = &historypb.HistoryEvent_WorkflowTaskStartedEventAttributes{
			WorkflowTaskStartedEventAttributes: &historypb.WorkflowTaskStartedEventAttributes{ScheduledEventId: sched}}
		return e
	}
	actStarted := func(id, sched int64, ms int) *historypb.HistoryEvent {
		e := ev(id, enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED, ms)
		e.Attributes = &historypb.HistoryEvent_ActivityTaskStartedEventAttributes{
			ActivityTaskStartedEventAttributes: &historypb.ActivityTaskStartedEventAttributes{ScheduledEventId: sched}}
		return e
	}
	// A one-activity workflow: 10 ms, 5 ms and 7 ms queued.
	evs := []*historypb.HistoryEvent{
		ev(1, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, 0),
		ev(2, enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, 1),
		wftStarted(3, 2, 11),
		ev(4, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 15),
		ev(5, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, 15),
		actStarted(6, 5, 20),
		ev(7, enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, 21),
		ev(8, enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, 21),
		wftStarted(9, 8, 28),
		ev(10, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 30),
		ev(11, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, 30),
	}
	got, err := timesOf(evs)
	require.NoError(t, err)
	require.Equal(t, 22*time.Millisecond, got.queued)
	require.Equal(t, t0.Add(30*time.Millisecond), got.closed)
	require.Equal(t, []time.Time{got.closed}, closesOf([]jobTimes{got}))

	_, err = timesOf(evs[:10])
	require.ErrorContains(t, err, "no completion")
	failed := append(evs[:10:10], ev(11, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, 30))
	_, err = timesOf(failed)
	require.ErrorContains(t, err, "WorkflowExecutionFailed")
}

func TestTrivialBodyAt(t *testing.T) {
	require.Equal(t, strings.TrimSuffix(trivialBody, "}")+`,"priority":1}`, trivialBodyAt(1))
}

// Every scenario is registered once, under its own number, and a full run
// asks for all of them.
func TestScenariosRegistered(t *testing.T) {
	seen := map[int]bool{}
	for _, sc := range scenarios() {
		require.False(t, seen[sc.n], "scenario %d twice", sc.n)
		seen[sc.n] = true
		require.True(t, strings.HasPrefix(sc.title, "Scenario "+strconv.Itoa(sc.n)+": "), sc.title)
		require.NotNil(t, sc.run)
	}
	for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} {
		require.True(t, seen[n], "scenario %d", n)
	}
	require.Equal(t, "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15", DefaultScenarios())
	for _, short := range []bool{true, false} {
		s := settings(short)
		require.Positive(t, s.FairRounds)
		require.Greater(t, s.FairA, s.FairB)
		require.Positive(t, s.FairConc)
		require.Positive(t, s.AuthRounds)
	}
	require.Less(t, settings(true).FairA, settings(false).FairA)
}

// The sections of scenarios 7 to 9 render from their rows: a table with a
// row per stack, probe or API, and the targets in the summary.
func TestTenantSectionsRender(t *testing.T) {
	set := settings(true)
	b := &Bench{Set: set}
	d := func(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }

	on := &fairRow{ts: &tenantStack{label: "fairness on", fair: true}, drained: []float64{0.2}, drainedPre: []float64{0.05}, submit: []time.Duration{d(400)}}
	off := &fairRow{ts: &tenantStack{label: "fairness off"}, drained: []float64{1}, drainedPre: []float64{0.05}, submit: []time.Duration{d(400)}}
	addAll(&on.idle, []time.Duration{d(90), d(100)})
	addAll(&on.behind, []time.Duration{d(150), d(250)})
	addAll(&off.idle, []time.Duration{d(90), d(100)})
	addAll(&off.behind, []time.Duration{d(900), d(1000)})
	sec := &Section{Title: "Scenario 7: fairness between tenants"}
	fairnessReport(b, sec, set, []*fairRow{on, off})
	out := render(sec)
	require.Contains(t, out, "| fairness on | 90.0 | 100.0 | 150.0 | 250.0 | 2.50 |")
	require.Contains(t, out, "| fairness off |")
	require.Contains(t, out, "| 20% | 20% | 5% | 0.40 s | met |")
	require.Len(t, b.Targets, 1)
	require.Equal(t, "7", b.Targets[0].scenario)
	require.Equal(t, "met", b.Targets[0].verdict)

	sec = &Section{Title: "Scenario 8: priority"}
	priorityReport(sec, set, []*prioRow{
		{priority: 1, lat: []time.Duration{d(100)}, queued: []time.Duration{d(60)}, drained: []float64{0.1}, pre: []float64{0}},
		{priority: prioBacklog, lat: []time.Duration{d(1000)}, queued: []time.Duration{d(900)}, drained: []float64{1}, pre: []float64{0}},
	})
	out = render(sec)
	require.Contains(t, out, "| 1 | 100.0 | 100.0 | 60.0 | 10% | 10% | 0% |")
	require.Contains(t, out, "| 3 | 1000.0 | 1000.0 | 900.0 | 100% | 100% | 0% |")
	require.Contains(t, out, "0.10× the time")

	keyed, open := &apiSide{name: authKeys}, &apiSide{name: authOpen}
	addAll(&keyed.floor, []time.Duration{d(102)})
	addAll(&open.floor, []time.Duration{d(100)})
	keyed.totals.blocks, open.totals.blocks = []float64{80, 100}, []float64{100, 100}
	sec = &Section{Title: "Scenario 9: cost of auth"}
	authReport(b, sec, set, []*apiSide{keyed, open})
	out = render(sec)
	require.Contains(t, out, "| "+authKeys+" | 1 | 102.0 |")
	require.Contains(t, out, "1.02 (met)")
	require.Contains(t, out, "0.90 (**missed**)")
	require.Len(t, b.Targets, 3)
}

func render(sec *Section) string {
	var w strings.Builder
	sec.Write(&w)
	return w.String()
}
