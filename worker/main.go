// Command worker runs Docket's workflows and activities. Start as many as
// the load needs; Temporal hands each workflow or activity task to one of
// them. SIGINT or SIGTERM stops polling and lets running activities finish
// within DOCKET_WORKER_STOP_TIMEOUT.
package main

import (
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/worker"

	"github.com/docket-dev/docket/activities"
	"github.com/docket-dev/docket/config"
	"github.com/docket-dev/docket/workflows"
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
	c, err := config.Dial(log, identity, false)
	if err != nil {
		return err
	}
	defer c.Close()

	w := worker.New(c, cfg.TaskQueue, worker.Options{
		Identity:                     identity,
		WorkerStopTimeout:            cfg.WorkerStopTimeout,
		MaxHeartbeatThrottleInterval: cfg.HeartbeatInterval,
	})
	workflows.Register(w)
	activities.Register(w, &activities.Activities{
		Worker:        identity,
		HTTP:          activities.NewFetchClient(cfg.FetchAllowHosts, cfg.FetchTimeout),
		MaxFetchBytes: cfg.FetchMaxBytes,
	})
	log.Info("worker starting", "task_queue", cfg.TaskQueue, "identity", identity)
	if err := w.Run(worker.InterruptCh()); err != nil {
		return fmt.Errorf("run worker: %w", err)
	}
	log.Info("worker stopped")
	return nil
}
