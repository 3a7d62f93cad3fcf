// Command chaos runs Docket's four fault-tolerance scenarios against the
// native cluster of `make cluster` (see package chaos) and prints, for each,
// jobs submitted / accepted / succeeded / failed / lost / duplicated, then
// one summary line. It exits 1 if a job was lost or duplicated or a
// scenario's own check failed. `make chaos` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/docket-dev/docket/tools/chaos"
)

func main() {
	script := flag.String("cluster", "cluster/cluster.sh", "the cluster control script")
	short := flag.Bool("short", false, "run the shorter scale of `make test`")
	only := flag.String("only", "", "comma-separated scenarios to run (1-4); all by default")
	limit := flag.Duration("timeout", 30*time.Minute, "bound of the whole run")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()

	if err := run(ctx, *script, *short, *only); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, script string, short bool, only string) error {
	topo, err := chaos.NewScriptTopology(ctx, script)
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))
	tc, err := client.NewLazyClient(client.Options{
		HostPort:  topo.TemporalAddress(),
		Namespace: topo.Namespace(),
		Logger:    tlog.NewStructuredLogger(quiet),
	})
	if err != nil {
		return err
	}
	defer tc.Close()

	scale := chaos.FullScale()
	if short {
		scale = chaos.ShortScale()
	}
	var scenarios []int
	for _, s := range strings.Split(only, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 4 {
			return fmt.Errorf("-only: %q is not a scenario (1-4)", s)
		}
		scenarios = append(scenarios, n)
	}
	fmt.Printf("chaos: against %s (Temporal %s, APIs %s, workers %s)\n", script, topo.TemporalAddress(),
		strings.Join(topo.APIURLs(), " "), strings.Join(topo.Workers(), " "))
	sum, err := chaos.Run(ctx, chaos.Config{
		Topology: topo,
		Temporal: tc,
		Scale:    scale,
		Out:      os.Stdout,
		Only:     scenarios,
	})
	if err != nil {
		return err
	}
	if !sum.OK() {
		t := sum.Total()
		return fmt.Errorf("FAILED: lost=%d duplicated=%d, %d problems", t.Lost, t.Duplicated, len(t.Problems))
	}
	return nil
}
