package api

import (
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/docket-dev/docket/config"
	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/internal/egress"
	"github.com/docket-dev/docket/internal/metrics"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/workflows"
)

// DefaultCallTimeout bounds each call to Temporal made for a request, so
// that a request is answered (503) rather than held while Temporal is
// unreachable.
const DefaultCallTimeout = 10 * time.Second

// New assembles the API that cfg configures, on Temporal client c, with
// the blob store docs (nil: the document routes have no store, and
// document jobs are not checked). docket-api serves it; tests change its
// fields before serving it.
func New(c client.Client, cfg config.Config, docs *documents.Store, log *slog.Logger) *Server {
	jobs := NewJobs(c, cfg, docs)
	hooks := NewWebhooks(docs, cfg.Ring, egress.Policy{AllowHosts: cfg.FetchAllowHosts})
	if hooks != nil {
		jobs.Endpoints = hooks.Targets
	}
	return &Server{
		Jobs:             jobs,
		Webhooks:         hooks,
		Streams:          Streams{Feeds: job.NewFeeds(jobs, log)},
		Docs:             docs,
		MaxDocumentBytes: cfg.MaxDocumentBytes,
		Log:              log,
		CallTimeout:      DefaultCallTimeout,
		CORSOrigins:      cfg.CORSOrigins,
		TaskQueue:        cfg.TaskQueue,
		Ring:             cfg.Ring,
		Metrics:          metrics.NewHTTP(metrics.NewRegistry(), cfg.MetricsTenantLabels),
	}
}

// NewJobs returns the job client of the API that cfg configures: jobs on
// cfg's task queue with its timeouts, and, when docs is not nil, document
// jobs refused before they start if they name a document never uploaded.
func NewJobs(c client.Client, cfg config.Config, docs *documents.Store) *job.Client {
	jobs := &job.Client{Temporal: c, Namespace: cfg.Namespace(), TaskQueue: cfg.TaskQueue, Kinds: workflows.Kinds, JobTimeout: cfg.JobTimeout, QueryTimeout: cfg.QueryTimeout,
		DataConverter: cfg.DataConverter(), FailureConverter: cfg.FailureConverter(),
		NotifyPolicy: egress.Policy{AllowHosts: cfg.FetchAllowHosts}, NotifyRetryFor: cfg.WebhookRetryFor}
	if docs != nil {
		jobs.Check = DocumentCheck(docs)
	}
	return jobs
}
