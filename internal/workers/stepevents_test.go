package workers

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/docket-dev/docket/job"
)

// signals records the step events a stepInbound sends.
type signals struct {
	client.Client
	mu  sync.Mutex
	got []job.StepEvent
}

func (s *signals) SignalWorkflow(_ context.Context, _, _, name string, arg any) error {
	if name != job.SignalStep {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, arg.(job.StepEvent))
	return nil
}

func (s *signals) last() (job.StepEvent, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) == 0 {
		return job.StepEvent{}, 0
	}
	return s.got[len(s.got)-1], len(s.got)
}

// TestStepEventsTrailingProgress: the progress of a heartbeat that comes
// too soon after the last signal is still signalled, once the interval has
// passed, without waiting for another heartbeat; and nothing is signalled
// once the step has returned.
func TestStepEventsTrailingProgress(t *testing.T) {
	sig := &signals{}
	a := &stepInbound{events: newStepEvents(sig, "w", 200*time.Millisecond)}
	a.wfID, a.runID = "job", "run"
	a.ev = job.StepEvent{Step: "ocr", Attempt: 1, Worker: "w"}
	a.send(true)
	require.Eventually(t, func() bool { _, n := sig.last(); return n == 1 }, 10*time.Second, 5*time.Millisecond)

	// Two heartbeats within the interval: the last one's progress goes out.
	a.progress([]any{job.Progress{Done: 1, Total: 10}})
	a.progress([]any{job.Progress{Done: 2, Total: 10}})
	require.Eventually(t, func() bool {
		ev, _ := sig.last()
		return ev.Progress != nil && ev.Progress.Done == 2
	}, 10*time.Second, 5*time.Millisecond, "the held progress is signalled without another heartbeat")
	_, n := sig.last()
	require.Equal(t, 2, n, "one signal for the two heartbeats")

	// After the step returns, a held progress is dropped.
	a.progress([]any{job.Progress{Done: 3, Total: 10}})
	a.end()
	a.mu.Lock()
	require.Nil(t, a.trailing)
	a.mu.Unlock()
}
