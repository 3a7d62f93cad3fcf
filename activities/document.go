package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/entities"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/llm"
	"github.com/docket-dev/docket/ocr"
)

// Limits on what a document step returns into workflow history; the rest
// stays in the blob store.
const (
	// InlineTextLimit is the most page text (in bytes, all pages) returned
	// inline; larger documents get links to their pages.
	InlineTextLimit = 64 << 10
	// InlineEntitiesLimit is the most entities returned inline.
	InlineEntitiesLimit = 200
)

// DocumentActivities holds what the document steps need. A worker process
// builds it once: the NER model and the LLM client are shared by every
// activity it runs.
type DocumentActivities struct {
	Worker string
	Docs   *documents.Store
	Engine *ocr.Engine
	NER    *entities.Extractor
	LLM    *llm.Client
	// Parallelism is how many pages one OCR activity works on at once;
	// tesseract runs single-threaded, so one per core.
	Parallelism int
	// TempDir holds a document's copy while the tools read it.
	TempDir string
	// BeatEvery is how often OCR heartbeats while a page is being read
	// (0: every second); the SDK sends at most one heartbeat per
	// DOCKET_HEARTBEAT_INTERVAL whatever this says.
	BeatEvery time.Duration
	// MaxPages is the longest document the ocr step reads (0:
	// DefaultMaxPages); a longer one fails with too_many_pages.
	MaxPages int
	// BatchPages is how many pages one ocr_pages activity reads (0: one per
	// page worker, see batchPages).
	BatchPages int
	// NoCache turns the OCR page cache off.
	NoCache bool
}

func (a *DocumentActivities) pageTexts(ctx context.Context, in job.TextInput) ([]string, error) {
	texts := make([]string, in.Pages)
	for i := range texts {
		t, err := a.Docs.GetText(ctx, documents.PageKey(in.JobID, i+1))
		if err != nil {
			return nil, fmt.Errorf("read page %d: %w", i+1, err)
		}
		texts[i] = t
	}
	return texts, nil
}

// EntitiesKey is where the full entity list of a document job is stored.
func EntitiesKey(jobID string) string { return "jobs/" + jobID + "/entities.json" }

// Entities finds structured values and names on every page; with an LLM
// configured it adds the LLM's names. All entities are stored in the blob
// store; up to InlineEntitiesLimit are returned.
func (a *DocumentActivities) Entities(ctx context.Context, in job.TextInput) (job.StepOutput[job.EntitiesResult], error) {
	var out job.StepOutput[job.EntitiesResult]
	a, err := a.forTenant(in.Tenant)
	if err != nil {
		return out, err
	}
	texts, err := a.pageTexts(ctx, in)
	if err != nil {
		return out, err
	}
	var lists [][]entities.Entity
	for i, text := range texts {
		lists = append(lists, a.NER.Extract(i+1, text))
		if a.LLM != nil && a.LLM.Configured() && strings.TrimSpace(text) != "" {
			found, err := a.LLM.Entities(ctx, i+1, text)
			if err != nil {
				return out, llmError(fmt.Errorf("llm entities page %d: %w", i+1, err))
			}
			lists = append(lists, found)
		}
		activity.RecordHeartbeat(ctx, job.Progress{Done: int64(i + 1), Total: int64(len(texts))})
	}
	merged := entities.Merge(lists...)
	all := make([]job.Entity, len(merged))
	for i, e := range merged {
		all[i] = job.Entity(e)
	}
	b, err := json.Marshal(all)
	if err != nil {
		return out, err
	}
	if err := a.Docs.PutText(ctx, EntitiesKey(in.JobID), string(b)); err != nil {
		return out, err
	}
	res := job.EntitiesResult{Count: len(all), Entities: all}
	if len(all) > InlineEntitiesLimit {
		res.Entities, res.Truncated = all[:InlineEntitiesLimit], true
	}
	out.Result = res
	out.Report = report(ctx, a.Worker)
	return out, nil
}

// Summarize summarises the document with the configured LLM, or with the
// offline extractive summariser when none is configured.
func (a *DocumentActivities) Summarize(ctx context.Context, in job.TextInput) (job.StepOutput[job.SummaryResult], error) {
	var out job.StepOutput[job.SummaryResult]
	a, err := a.forTenant(in.Tenant)
	if err != nil {
		return out, err
	}
	texts, err := a.pageTexts(ctx, in)
	if err != nil {
		return out, err
	}
	text := strings.Join(texts, "\n\n")
	// Normalize always sets max_words; a job.TextInput without one (built by
	// hand, or by a workflow from before the field) gets the job's default,
	// the only one there is.
	maxWords := cmp.Or(in.MaxWords, job.DefaultSummaryWords)
	var s llm.Summary
	if a.LLM != nil && a.LLM.Configured() {
		s, err = a.LLM.Summarize(ctx, text, maxWords)
		if err != nil {
			return out, llmError(err)
		}
	} else {
		s = llm.Extractive(text, maxWords)
	}
	res := job.SummaryResult{Text: s.Text, Method: s.Method, Model: s.Model, Truncated: s.Truncated}
	if s.Usage != nil {
		res.Usage = &job.Usage{PromptTokens: s.Usage.PromptTokens, CompletionTokens: s.Usage.CompletionTokens, TotalTokens: s.Usage.TotalTokens}
	}
	out.Result = res
	out.Report = report(ctx, a.Worker)
	return out, nil
}

// llmError maps the LLM client's classification onto Temporal's retry
// policy: rate limits and server errors back off (honouring Retry-After),
// rejected requests fail once.
func llmError(err error) error {
	var apiErr *llm.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	if !apiErr.Retryable {
		return temporal.NewNonRetryableApplicationError(err.Error(), string(job.FailLLMRejected), nil)
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), string(job.FailLLMUnavailable),
		temporal.ApplicationErrorOptions{NextRetryDelay: apiErr.RetryAfter})
}
