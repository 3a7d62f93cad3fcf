// Command worker runs Docket's workflows and activities. Start as many as
// the load needs; Temporal hands each workflow or activity task to one of
// them. DOCKET_WORKER_ROLES picks the task queues it serves (all by
// default). SIGINT or SIGTERM stops polling and lets running activities
// finish within DOCKET_WORKER_STOP_TIMEOUT.
package main

import (
	"log/slog"
	"os"

	"go.temporal.io/sdk/worker"

	"github.com/docket-dev/docket/config"
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
	<-worker.InterruptCh()
	log.Info("worker stopping")
	set.Stop()
	log.Info("worker stopped")
	return nil
}
