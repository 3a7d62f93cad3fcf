package chaos

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/docket-dev/docket/tools/teststack"
)

// TestChaosShort is the shorter chaos run of `make test`: the four
// scenarios at ShortScale against the real worker and API binaries (two of
// each) and a Temporal dev server on a SQLite file, with webhooks on: the
// jobs of scenarios 1, 2 and 4 notify the run's receiver, and every
// accepted job's terminal event must arrive, signed, exactly once. `make chaos` runs them
// at full scale against the Temporal server on PostgreSQL.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: skipped in -short mode (it kills and restarts real processes for a few minutes)")
	}
	cli, err := teststack.CLIPath()
	if err != nil {
		t.Fatalf("chaos needs the pinned temporal CLI: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()

	topo := newDevTopology(t, cli)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tc, err := client.NewLazyClient(client.Options{
		HostPort:  topo.TemporalAddress(),
		Namespace: topo.Namespace(),
		Logger:    tlog.NewStructuredLogger(quiet),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	topo.temporal = tc
	for _, name := range []string{"temporal", "worker-1", "worker-2", "api-1", "api-2"} {
		if err := topo.Start(ctx, name); err != nil {
			t.Fatal(err)
		}
	}

	out := &testWriter{t: t}
	sum, err := Run(ctx, Config{Topology: topo, Temporal: tc, Scale: ShortScale(), Out: out, WebhookSecret: topo.hookSecret})
	out.Flush()
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Results) != 4 {
		t.Fatalf("ran %d scenarios, want 4", len(sum.Results))
	}
	for _, r := range sum.Results {
		if !r.OK() {
			t.Errorf("%s: %s; problems: %s", r.Scenario, r.line(), strings.Join(r.Problems, " | "))
		}
		if r.Accepted == 0 || r.Succeeded == 0 {
			t.Errorf("%s: ran no job (%s)", r.Scenario, r.line())
		}
		if wantHooks := !strings.HasPrefix(r.Scenario, "scenario 3:"); wantHooks && (r.NotifyExpected == 0 || r.Notified != r.NotifyExpected) {
			t.Errorf("%s: webhooks not checked or incomplete (%s)", r.Scenario, r.line())
		}
	}
	if !sum.OK() {
		for _, name := range []string{"temporal", "worker-1", "worker-2", "api-1", "api-2"} {
			t.Logf("--- %s log (tail):\n%s", name, topo.logTail(name))
		}
	}
}

// testWriter sends Run's output to t.Log, a line at a time.
type testWriter struct {
	t    *testing.T
	part string
}

func (w *testWriter) Write(p []byte) (int, error) {
	lines := strings.Split(w.part+string(p), "\n")
	for _, l := range lines[:len(lines)-1] {
		w.t.Log(l)
	}
	w.part = lines[len(lines)-1]
	return len(p), nil
}

func (w *testWriter) Flush() {
	if w.part != "" {
		w.t.Log(w.part)
		w.part = ""
	}
}
