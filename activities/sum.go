package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/docket-dev/docket/job"
)

// sumSliceTime is how long one slice of a slow sum takes; the activity
// heartbeats after each slice.
const sumSliceTime = 100 * time.Millisecond

// SumProgress is the sum activity's heartbeat: the job.Progress fields the
// API shows, plus what a retried attempt needs to resume where the last one
// stopped instead of starting again.
type SumProgress struct {
	Done   int64 `json:"done"`
	Total  int64 `json:"total"`
	Slices int64 `json:"slices"`
	Sum    int64 `json:"sum"`
}

// Sum adds the integers from in.Start to in.End. With in.WorkMS it spreads
// the work over that many milliseconds in slices, heartbeating after each,
// and a retried attempt resumes from the last heartbeat.
func (a *Activities) Sum(ctx context.Context, in job.SumInput) (job.StepOutput[job.SumResult], error) {
	var out job.StepOutput[job.SumResult]
	if err := in.Normalize(); err != nil {
		return out, temporal.NewNonRetryableApplicationError(err.Error(), string(job.FailInvalidInput), err)
	}
	start, end := *in.Start, *in.End
	count := end - start + 1
	slices := max(1, in.WorkMS/sumSliceTime.Milliseconds())
	pause := time.Duration(in.WorkMS) * time.Millisecond / time.Duration(slices)

	var p SumProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &p); err != nil {
			activity.GetLogger(ctx).Warn("ignoring unreadable heartbeat details", "error", err)
			p = SumProgress{}
		}
	}
	p.Total = count
	for i := p.Slices; i < slices; i++ {
		lo := start + count*i/slices
		hi := start + count*(i+1)/slices - 1
		if pause > 0 {
			select {
			case <-ctx.Done():
				return out, fmt.Errorf("sum slice %d of %d: %w", i+1, slices, ctx.Err())
			case <-time.After(pause):
			}
		}
		if hi >= lo {
			p.Sum += rangeSum(lo, hi)
			p.Done += hi - lo + 1
		}
		p.Slices = i + 1
		// After the last slice the result itself is the record: a heartbeat
		// would only add a round trip to every job.
		if p.Slices < slices {
			activity.RecordHeartbeat(ctx, p)
		}
	}
	out.Result = job.SumResult{Sum: p.Sum, Count: count}
	out.Report = a.report(ctx)
	out.Report.Progress = &job.Progress{Done: count, Total: count}
	return out, nil
}

// rangeSum is the sum of lo..hi. The input bounds keep it inside int64.
func rangeSum(lo, hi int64) int64 {
	n := hi - lo + 1
	if n%2 == 0 {
		return (n / 2) * (lo + hi)
	}
	return n * ((lo + hi) / 2)
}
