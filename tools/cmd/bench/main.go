// Command bench measures Docket against bare Temporal on one machine (see
// package bench). `make bench` builds and runs it and writes BENCHMARKS.md;
// `make bench-short` (or BENCH_SHORT=1) runs every scenario briefly as a
// smoke check.
//
// It starts everything it needs: Temporal dev servers from the pinned CLI
// (in memory and on SQLite files), and the real bin/worker and
// bin/docket-api as separate processes. Ctrl-C stops them all.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/docket-dev/docket/tools/bench"
)

func main() {
	var o bench.Options
	flag.BoolVar(&o.Short, "short", os.Getenv("BENCH_SHORT") != "", "run every scenario briefly (also BENCH_SHORT=1)")
	flag.StringVar(&o.Out, "out", "BENCHMARKS.md", "report to write; empty writes none")
	flag.StringVar(&o.Scenarios, "scenarios", bench.DefaultScenarios(), "comma-separated scenarios to run")
	flag.StringVar(&o.Temporal, "temporal", bench.DefaultCLI(), "pinned temporal CLI")
	flag.StringVar(&o.Bin, "bin", "bin", "folder holding worker and docket-api")
	flag.BoolVar(&o.Keep, "keep", false, "keep the scratch folder (databases and logs)")
	flag.Parse()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	go func() {
		// A second Ctrl-C does not wait for orderly stops.
		<-ctx.Done()
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		<-c
		fmt.Fprintln(os.Stderr, "bench: killing every process it started")
		bench.KillAll()
		os.Exit(130)
	}()

	if err := bench.Run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
