// Command worker runs Docket's workflows and activities. Start as many as
// the load needs; Temporal hands each workflow or activity task to one of
// them. DOCKET_WORKER_ROLES picks the task queues it serves (all by
// default). SIGINT or SIGTERM stops polling and lets running activities
// finish within DOCKET_WORKER_STOP_TIMEOUT.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/docket-dev/docket/config"
	"github.com/docket-dev/docket/internal/metrics"
	"github.com/docket-dev/docket/internal/tracing"
	"github.com/docket-dev/docket/internal/workers"
)

func main() {
	if err := run(); err != nil {
		slog.Error("worker stopped", "error", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	log := cfg.Logger()
	slog.SetDefault(log)
	identity := config.Identity("worker")
	tr, err := tracing.Setup(context.Background(), "docket-worker", identity)
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: the spans of the steps that
	// finished while the workers stopped are sent too.
	defer flushTraces(tr, log)
	cfg.Interceptors = tr.ClientInterceptors()
	// With DOCKET_METRICS_ADDR the worker serves the Temporal SDK's
	// metrics (task slots, schedule-to-start and execution latencies,
	// polls, sticky cache) and Docket's step metrics (OCR pages, LLM
	// requests and tokens, fetches); without it it gathers none.
	var metricsServer *http.Server
	errc := make(chan error, 1)
	if cfg.MetricsAddr != "" {
		reg := metrics.NewRegistry()
		sdkMetrics, stopSDKMetrics := metrics.NewTemporal(reg, log)
		defer stopSDKMetrics.Close()
		cfg.MetricsHandler = sdkMetrics
		metricsServer = metrics.Server(cfg.MetricsAddr, reg, log)
		addr, err := metrics.Listen(metricsServer, errc)
		if err != nil {
			return err
		}
		defer metricsServer.Close()
		log.Info("metrics listening", "addr", addr)
	}
	c, err := cfg.Dial(log, identity, false)
	if err != nil {
		return err
	}
	defer c.Close()

	opts, release, err := workers.Build(cfg, identity)
	if err != nil {
		return err
	}
	defer func() {
		if err := release(); err != nil {
			log.Warn("close blob store", "error", err)
		}
	}()

	set, err := workers.Start(c, opts)
	if err != nil {
		return err
	}
	log.Info("worker running", "task_queue", cfg.TaskQueue, "roles", cfg.WorkerRoles, "identity", identity,
		"llm", opts.Document.LLM.Configured())
	select {
	case <-worker.InterruptCh():
	case err := <-errc:
		set.Stop()
		return err
	}
	log.Info("worker stopping")
	set.Stop()
	log.Info("worker stopped")
	return nil
}

// flushTraces sends the spans still buffered, within a bound: an
// unreachable collector must not hold up a stopping worker.
func flushTraces(tr *tracing.Tracing, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		log.Warn("traces not sent", "error", err)
	}
}
