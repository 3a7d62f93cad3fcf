package workers

import (
	"context"
	"fmt"
	"net/http"

	"github.com/docket-dev/docket/activities"
	"github.com/docket-dev/docket/config"
	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/entities"
	"github.com/docket-dev/docket/internal/webhook/endpoints"
	"github.com/docket-dev/docket/llm"
	"github.com/docket-dev/docket/ocr"
)

// Resources are what the document steps of a worker process share: the
// blob store, the entity model and the LLM client. Documents makes the
// ones left nil from the configuration; tests bring their own (a store in
// a temporary folder, the model loaded once per test binary, a fake LLM).
type Resources struct {
	Docs *documents.Store
	NER  *entities.Extractor
	LLM  *llm.Client
}

// Build assembles the workers of a worker process as cfg configures them,
// with every step, and identity naming the process. release closes what
// Build opened (the blob store); call it once the workers have stopped.
func Build(cfg config.Config, identity string) (o Options, release func() error, err error) {
	o = Configure(cfg, identity)
	url, err := cfg.BlobStoreURL()
	if err != nil {
		return Options{}, nil, fmt.Errorf("blob store: %w", err)
	}
	store, err := documents.Open(context.Background(), url)
	if err != nil {
		return Options{}, nil, fmt.Errorf("open blob store: %w", err)
	}
	store.Ring = cfg.Ring
	o.Notify.Endpoints = endpoints.NewStore(store.Bucket, cfg.Ring)
	if o.Document, err = Documents(cfg, identity, Resources{Docs: store}); err != nil {
		_ = store.Close()
		return Options{}, nil, err
	}
	return o, store.Close, nil
}

// Configure returns the options of a worker process as cfg configures
// them, with the steps that need no blob store: Document is nil until the
// caller sets it (Build does, from Documents).
func Configure(cfg config.Config, identity string) Options {
	return Options{
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
		// Endpoints come with the blob store (Build).
		Notify: &activities.NotifyActivities{
			Worker:       identity,
			HTTP:         activities.NewWebhookClient(cfg.FetchAllowHosts, cfg.WebhookTimeout),
			ServerSecret: cfg.WebhookSecret,
		},
	}
}

// Documents builds the activities of the document steps on r.Docs, which
// is required. A nil r.NER loads the entity model; a nil r.LLM is the
// client cfg configures (none when cfg names no endpoint).
func Documents(cfg config.Config, identity string, r Resources) (*activities.DocumentActivities, error) {
	if r.Docs == nil {
		return nil, fmt.Errorf("document steps of %s: no blob store", identity)
	}
	if r.NER == nil {
		ner, err := entities.NewExtractor()
		if err != nil {
			return nil, fmt.Errorf("load entity model: %w", err)
		}
		r.NER = ner
	}
	if r.LLM == nil {
		model, err := llm.New(llm.Config{BaseURL: cfg.LLMBaseURL, Model: cfg.LLMModel, APIKey: cfg.LLMAPIKey, Timeout: cfg.LLMTimeout}, http.DefaultClient)
		if err != nil {
			return nil, fmt.Errorf("configure LLM: %w", err)
		}
		r.LLM = model
	}
	return &activities.DocumentActivities{
		Worker:      identity,
		Docs:        r.Docs,
		Engine:      &ocr.Engine{PageTimeout: cfg.OCRPageTimeout},
		NER:         r.NER,
		LLM:         r.LLM,
		Parallelism: cfg.OCRParallelism,
		MaxPages:    cfg.MaxPages,
		BatchPages:  cfg.OCRBatchPages,
		NoCache:     !cfg.OCRCache,
	}, nil
}
