// Command worker runs Docket's workflows and activities. Start as many as
// the load needs; Temporal hands each workflow or activity task to one of
// them. DOCKET_WORKER_ROLES picks the task queues it serves (all by
// default). SIGINT or SIGTERM stops polling and lets running activities
// finish within DOCKET_WORKER_STOP_TIMEOUT.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"go.temporal.io/sdk/worker"

	"github.com/docket-dev/docket/activities"
	"github.com/docket-dev/docket/config"
	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/entities"
	"github.com/docket-dev/docket/internal/workers"
	"github.com/docket-dev/docket/llm"
	"github.com/docket-dev/docket/ocr"
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

	doc, err := documentActivities(cfg, identity)
	if err != nil {
		return err
	}
	defer doc.Docs.Close()

	set, err := workers.Start(c, workers.Options{
		TaskQueue:         cfg.TaskQueue,
		Roles:             cfg.WorkerRoles,
		Identity:          identity,
		StopTimeout:       cfg.WorkerStopTimeout,
		HeartbeatInterval: cfg.HeartbeatInterval,
		OCRConcurrency:    cfg.OCRConcurrency,
		LLMRate:           cfg.LLMRate,
		General: &activities.Activities{
			Worker:        identity,
			HTTP:          activities.NewFetchClient(cfg.FetchAllowHosts, cfg.FetchTimeout),
			MaxFetchBytes: cfg.FetchMaxBytes,
		},
		Document: doc,
	})
	if err != nil {
		return err
	}
	log.Info("worker running", "task_queue", cfg.TaskQueue, "roles", cfg.WorkerRoles, "identity", identity,
		"llm", doc.LLM.Configured())
	<-worker.InterruptCh()
	log.Info("worker stopping")
	set.Stop()
	log.Info("worker stopped")
	return nil
}

// documentActivities builds what the document steps share in this process.
func documentActivities(cfg config.Config, identity string) (*activities.DocumentActivities, error) {
	url, err := cfg.BlobStoreURL()
	if err != nil {
		return nil, err
	}
	store, err := documents.Open(context.Background(), url)
	if err != nil {
		return nil, err
	}
	ner, err := entities.NewExtractor()
	if err != nil {
		return nil, fmt.Errorf("load entity model: %w", err)
	}
	model, err := llm.New(llm.Config{BaseURL: cfg.LLMBaseURL, Model: cfg.LLMModel, APIKey: cfg.LLMAPIKey, Timeout: cfg.LLMTimeout}, http.DefaultClient)
	if err != nil {
		return nil, fmt.Errorf("configure LLM: %w", err)
	}
	return &activities.DocumentActivities{
		Worker:      identity,
		Docs:        store,
		Engine:      &ocr.Engine{},
		NER:         ner,
		LLM:         model,
		Parallelism: cfg.OCRParallelism,
	}, nil
}
