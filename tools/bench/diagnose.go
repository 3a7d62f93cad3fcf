package bench

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

var jobIDPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// diagnose describes the job an error names, for the report: its history
// events with their times and what is pending. It is how a stuck job is
// explained after the fact.
func diagnose(ctx context.Context, c client.Client, err error) string {
	id := jobIDPattern.FindString(err.Error())
	if id == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "job %s:", id)
	first := writeEvents(ctx, &b, c, id, time.Time{})
	if d, err := c.DescribeWorkflowExecution(ctx, id, ""); err == nil {
		if wt := d.GetPendingWorkflowTask(); wt != nil {
			fmt.Fprintf(&b, " pending workflow task: %s, attempt %d, scheduled +%s ms", wt.GetState(), wt.GetAttempt(),
				ms(wt.GetScheduledTime().AsTime().Sub(first)))
		}
		for _, pa := range d.GetPendingActivities() {
			fmt.Fprintf(&b, " pending activity %s: %s, attempt %d", pa.GetActivityType().GetName(), pa.GetState(), pa.GetAttempt())
		}
	}
	return b.String()
}

// timeline lists a job's history events (and what is pending) at their
// offsets from submitted, then when its result reached the client (done):
// it tells a job that was slow to run from a result that was slow to
// arrive. Event times are the server's clock, on this same host.
func timeline(ctx context.Context, c client.Client, id string, submitted, done time.Time) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "job %s:", id)
	writeEvents(ctx, &b, c, id, submitted)
	fmt.Fprintf(&b, " result at the client +%s ms.", ms(done.Sub(submitted)))
	return b.String()
}

// writeEvents writes the job's history events with their offsets from
// origin (the first event's time when origin is zero), which it returns.
func writeEvents(ctx context.Context, b *strings.Builder, c client.Client, id string, origin time.Time) time.Time {
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			fmt.Fprintf(b, " (history: %v)", err)
			break
		}
		t := e.GetEventTime().AsTime()
		if origin.IsZero() {
			origin = t
		}
		fmt.Fprintf(b, " %s +%s ms;", strings.TrimPrefix(e.GetEventType().String(), "EVENT_TYPE_"), ms(t.Sub(origin)))
	}
	return origin
}
