// Command chaos runs Docket's four fault-tolerance scenarios against the
// native cluster of `make cluster` (see package chaos) and prints, for each,
// jobs submitted / accepted / succeeded / failed / lost / duplicated, then
// one summary line. It exits 1 if a job was lost or duplicated or a
// scenario's own check failed. `make chaos` runs it. With -webhooks the jobs
// of scenarios 1, 2 and 4 also notify a receiver on loopback, and each
// accepted job's terminal event must arrive exactly once.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
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
	webhooks := flag.Bool("webhooks", false, "give the jobs of scenarios 1, 2 and 4 a notify URL on a loopback receiver and require each terminal event to arrive once; restarts the cluster's APIs and workers with DOCKET_CLUSTER_FETCH_ALLOW_HOSTS=127.0.0.1 first")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()

	if err := run(ctx, *script, *short, *only, *webhooks); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, script string, short bool, only string, webhooks bool) error {
	topo, err := chaos.NewScriptTopology(ctx, script)
	if err != nil {
		return err
	}
	var secret string
	if webhooks {
		if secret, err = allowReceiver(ctx, topo); err != nil {
			return err
		}
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
		// "" leaves webhooks off.
		WebhookSecret: secret,
	})
	if err != nil {
		return err
	}
	if !sum.OK() {
		t := sum.Total()
		return fmt.Errorf("FAILED: lost=%d duplicated=%d, webhooks lost=%d duplicated=%d, %d problems",
			t.Lost, t.Duplicated, t.NotifyLost, t.NotifyDuplicated, len(t.Problems))
	}
	return nil
}

// allowReceiver prepares the cluster for the run's webhook receiver on
// 127.0.0.1: the APIs must accept it as a notify URL and the workers
// deliver to it, which the egress guard refuses unless the host is allowed.
// The setting goes to this process's environment, so that every component
// the run restarts through the script keeps it, and each API and worker is
// restarted with it now. It returns the cluster's webhook signing secret,
// which the receiver verifies with.
func allowReceiver(ctx context.Context, topo *chaos.ScriptTopology) (string, error) {
	hosts := os.Getenv("DOCKET_CLUSTER_FETCH_ALLOW_HOSTS")
	if !slices.Contains(strings.Split(hosts, ","), "127.0.0.1") {
		hosts = strings.TrimPrefix(hosts+",127.0.0.1", ",")
		if err := os.Setenv("DOCKET_CLUSTER_FETCH_ALLOW_HOSTS", hosts); err != nil {
			return "", err
		}
	}
	for _, name := range append(topo.Workers(), topo.APIs()...) {
		fmt.Printf("chaos: restarting %s with DOCKET_CLUSTER_FETCH_ALLOW_HOSTS=%s (webhooks on)\n", name, hosts)
		if err := topo.Stop(ctx, name); err != nil {
			return "", fmt.Errorf("restart %s: %w", name, err)
		}
		if err := topo.Start(ctx, name); err != nil {
			return "", fmt.Errorf("restart %s: %w", name, err)
		}
	}
	file := topo.WebhookSecretFile()
	if file == "" {
		return "", fmt.Errorf("%s env names no DOCKET_CLUSTER_WEBHOOK_SECRET_FILE", topo.Script)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("the cluster's webhook secret (made when a worker starts): %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
