package activities_test

import (
	"bytes"
	"errors"
	"log/slog"
	"math/big"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/docket-dev/docket/activities"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

const testWorker = "worker-under-test"

func i64(v int64) *int64 { return &v }

// syncBuffer collects the SDK's log lines; it may be written to after the
// test has finished.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newActivityEnv returns a test activity environment with a's activities
// registered under the names the worker registers them with. The SDK's log
// is shown only if the test fails.
func newActivityEnv(t *testing.T, a *activities.Activities) *testsuite.TestActivityEnvironment {
	t.Helper()
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("SDK log:\n%s", logs.String())
		}
	})
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(a.Sum, activity.RegisterOptions{Name: steps.Sum.Name})
	env.RegisterActivityWithOptions(a.CountWords, activity.RegisterOptions{Name: steps.CountWords.Name})
	return env
}

// requireAppError asserts that err wraps a *temporal.ApplicationError of
// errType and returns it.
func requireAppError(t *testing.T, err error, errType string, nonRetryable bool) *temporal.ApplicationError {
	t.Helper()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "error %v (%T) does not wrap a *temporal.ApplicationError", err, err)
	if errType != "" {
		require.Equal(t, errType, appErr.Type(), "error: %v", err)
	}
	require.Equal(t, nonRetryable, appErr.NonRetryable(), "NonRetryable() of %v", err)
	return appErr
}

func requireReport(t *testing.T, r job.StepReport) {
	t.Helper()
	require.Equal(t, testWorker, r.Worker)
	require.GreaterOrEqual(t, r.Attempt, int32(1))
	require.False(t, r.StartedAt.IsZero(), "StartedAt is zero")
	require.False(t, r.FinishedAt.IsZero(), "FinishedAt is zero")
}

// bigSum is the sum of the integers from lo to hi (0 if hi < lo), computed
// with arbitrary precision: by brute force for short ranges, by Gauss's
// formula otherwise.
func bigSum(lo, hi int64) *big.Int {
	if hi < lo {
		return new(big.Int)
	}
	if hi-lo < 100_000 {
		s := new(big.Int)
		for i := lo; i <= hi; i++ {
			s.Add(s, big.NewInt(i))
		}
		return s
	}
	n := new(big.Int).Sub(big.NewInt(hi), big.NewInt(lo))
	n.Add(n, big.NewInt(1))
	s := new(big.Int).Add(big.NewInt(lo), big.NewInt(hi))
	s.Mul(s, n)
	return s.Quo(s, big.NewInt(2))
}

func TestBigSumHelper(t *testing.T) {
	// The brute-force and closed-form branches of the helper agree.
	for _, r := range [][2]int64{{1, 200_000}, {-150_000, 50_001}, {-200_001, -1}} {
		brute := new(big.Int)
		for i := r[0]; i <= r[1]; i++ {
			brute.Add(brute, big.NewInt(i))
		}
		require.Equal(t, 0, brute.Cmp(bigSum(r[0], r[1])), "%v", r)
	}
}

func runSum(t *testing.T, env *testsuite.TestActivityEnvironment, in job.SumInput) (job.StepOutput[job.SumResult], error) {
	t.Helper()
	var out job.StepOutput[job.SumResult]
	val, err := env.ExecuteActivity(steps.Sum.Name, in)
	if err != nil {
		return out, err
	}
	require.NoError(t, val.Get(&out))
	return out, nil
}

func requireSum(t *testing.T, out job.StepOutput[job.SumResult], start, end int64) {
	t.Helper()
	want := bigSum(start, end)
	require.True(t, want.IsInt64(), "test bug: expected sum does not fit int64")
	require.Equal(t, want.Int64(), out.Result.Sum, "sum of %d..%d", start, end)
	require.Equal(t, end-start+1, out.Result.Count, "count of %d..%d", start, end)
}

func TestSum(t *testing.T) {
	const m = job.SumMaxAbs
	ranges := []struct {
		name       string
		start, end int64
	}{
		{"one to ten", 1, 10},
		{"zero only", 0, 0},
		{"single positive", 42, 42},
		{"single negative", -42, -42},
		{"symmetric", -5, 5},
		{"negative range", -10, -1},
		{"mixed odd count", -3, 4},
		{"mixed even count", -4, 4},
		{"min only", -m, -m},
		{"max only", m, m},
		{"two at max", m - 1, m},
		{"widest", -m, m},
		{"zero to max", 0, m},
		{"one to max", 1, m},
		{"min to zero", -m, 0},
		{"min to max minus one", -m, m - 1},
		{"min plus one to max", -m + 1, m},
	}
	a := &activities.Activities{Worker: testWorker}
	for _, r := range ranges {
		t.Run(r.name, func(t *testing.T) {
			out, err := runSum(t, newActivityEnv(t, a), job.SumInput{Start: i64(r.start), End: i64(r.end)})
			require.NoError(t, err)
			requireSum(t, out, r.start, r.end)
			requireReport(t, out.Report)
		})
	}
}

func TestSumInvalidInput(t *testing.T) {
	tests := []struct {
		name  string
		in    job.SumInput
		field string
	}{
		{"missing start", job.SumInput{End: i64(1)}, "input.start"},
		{"missing end", job.SumInput{Start: i64(1)}, "input.end"},
		{"start after end", job.SumInput{Start: i64(2), End: i64(1)}, "input.end"},
		{"start out of bounds", job.SumInput{Start: i64(-job.SumMaxAbs - 1), End: i64(0)}, "input.start"},
		{"end out of bounds", job.SumInput{Start: i64(0), End: i64(job.SumMaxAbs + 1)}, "input.end"},
		{"negative work_ms", job.SumInput{Start: i64(0), End: i64(1), WorkMS: -1}, "input.work_ms"},
		{"work_ms too large", job.SumInput{Start: i64(0), End: i64(1), WorkMS: job.SumMaxWorkMS + 1}, "input.work_ms"},
	}
	a := &activities.Activities{Worker: testWorker}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runSum(t, newActivityEnv(t, a), tt.in)
			appErr := requireAppError(t, err, string(job.FailInvalidInput), true)
			require.Contains(t, appErr.Error(), tt.field)
		})
	}
}

func TestSumWithWork(t *testing.T) {
	const m = job.SumMaxAbs
	tests := []struct {
		name       string
		start, end int64
		workMS     int64
	}{
		{"below one slice", 1, 10, 30},             // one slice with a pause
		{"two slices", 1, 10, 250},                 // count splits evenly
		{"three uneven slices", -m, m, 300},        // 2e9+1 does not divide by 3
		{"more slices than numbers", 7, 7, 300},    // empty slices must add nothing
		{"more slices than numbers 2", -1, 0, 500}, // 2 numbers, 5 slices
	}
	a := &activities.Activities{Worker: testWorker}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runSum(t, newActivityEnv(t, a), job.SumInput{Start: i64(tt.start), End: i64(tt.end), WorkMS: tt.workMS})
			require.NoError(t, err)
			requireSum(t, out, tt.start, tt.end)
			requireReport(t, out.Report)
		})
	}
}

func TestSumHeartbeatsAreConsistent(t *testing.T) {
	// 1..1000 in 5 slices (work_ms 500, 100 ms a slice) of 200 numbers each.
	const start, end, slices, per = 1, 1000, 5, 200
	env := newActivityEnv(t, &activities.Activities{Worker: testWorker})
	var mu sync.Mutex
	var seen []activities.SumProgress
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var p activities.SumProgress
		if err := details.Get(&p); err != nil {
			t.Errorf("heartbeat details: %v", err)
			return
		}
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
	})
	out, err := runSum(t, env, job.SumInput{Start: i64(start), End: i64(end), WorkMS: 500})
	require.NoError(t, err)
	requireSum(t, out, start, end)

	mu.Lock()
	defer mu.Unlock()
	// The SDK throttles heartbeats, so not every one reaches the listener,
	// but the first is sent at once and each one seen must be consistent.
	require.NotEmpty(t, seen)
	for _, p := range seen {
		require.Equal(t, int64(end-start+1), p.Total, "%+v", p)
		require.GreaterOrEqual(t, p.Slices, int64(1), "%+v", p)
		require.LessOrEqual(t, p.Slices, int64(slices), "%+v", p)
		require.Equal(t, p.Slices*per, p.Done, "%+v", p)
		require.Equal(t, bigSum(start, start+p.Done-1).Int64(), p.Sum, "%+v", p)
	}
}

func TestSumResumesFromHeartbeat(t *testing.T) {
	const m = job.SumMaxAbs
	tests := []struct {
		name       string
		start, end int64
		workMS     int64 // slices = workMS/100
		slices     int64
		done       int64 // slices already done, per the heartbeat
	}{
		// Counts chosen to divide evenly by the number of slices, so that
		// each slice's range is unambiguous.
		{"small range 2 of 5", 1, 1000, 500, 5, 2},
		{"small range 4 of 5", -500, 499, 500, 5, 4},
		{"negative range 1 of 4", -4000, -1, 400, 4, 1},
		{"near extremes 3 of 5", -m + 1, m, 500, 5, 3},
		{"zero to max minus one 2 of 4", 0, m - 1, 400, 4, 2},
	}
	a := &activities.Activities{Worker: testWorker}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			count := tt.end - tt.start + 1
			require.Zero(t, count%tt.slices, "test bug: uneven slices")
			doneNums := count / tt.slices * tt.done
			partial := bigSum(tt.start, tt.start+doneNums-1)
			require.True(t, partial.IsInt64())

			env := newActivityEnv(t, a)
			env.SetHeartbeatDetails(activities.SumProgress{
				Done:   doneNums,
				Total:  count,
				Slices: tt.done,
				Sum:    partial.Int64(),
			})
			out, err := runSum(t, env, job.SumInput{Start: i64(tt.start), End: i64(tt.end), WorkMS: tt.workMS})
			require.NoError(t, err)
			requireSum(t, out, tt.start, tt.end)
			requireReport(t, out.Report)
		})
	}
}

// A resumed attempt must carry on from the heartbeat rather than start over:
// a deliberately wrong partial sum in the details shows in the result.
func TestSumResumeUsesHeartbeatSum(t *testing.T) {
	const start, end, offset = 1, 1000, 1_000_000
	partial := bigSum(1, 600).Int64() // 3 of 5 slices of 200
	env := newActivityEnv(t, &activities.Activities{Worker: testWorker})
	env.SetHeartbeatDetails(activities.SumProgress{Done: 600, Total: 1000, Slices: 3, Sum: partial + offset})
	out, err := runSum(t, env, job.SumInput{Start: i64(start), End: i64(end), WorkMS: 500})
	require.NoError(t, err)
	require.Equal(t, bigSum(start, end).Int64()+offset, out.Result.Sum)
	require.Equal(t, int64(1000), out.Result.Count)
}

func TestSumResumeAfterLastSlice(t *testing.T) {
	// All slices were done before the retry: nothing is left to add.
	const start, end = -10, 10
	env := newActivityEnv(t, &activities.Activities{Worker: testWorker})
	env.SetHeartbeatDetails(activities.SumProgress{Done: 21, Total: 21, Slices: 3, Sum: 0})
	out, err := runSum(t, env, job.SumInput{Start: i64(start), End: i64(end), WorkMS: 300})
	require.NoError(t, err)
	requireSum(t, out, start, end)
}

func TestSumIgnoresUnreadableHeartbeat(t *testing.T) {
	const start, end = 1, 1000
	env := newActivityEnv(t, &activities.Activities{Worker: testWorker})
	env.SetHeartbeatDetails("not a SumProgress")
	out, err := runSum(t, env, job.SumInput{Start: i64(start), End: i64(end), WorkMS: 200})
	require.NoError(t, err)
	requireSum(t, out, start, end)
}
