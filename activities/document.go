package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
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
}

// OCRProgress is the ocr activity's heartbeat: progress for the job view,
// and the pages already stored, so that a retry after a crash resumes
// instead of starting over.
type OCRProgress struct {
	Done  int64     `json:"done"`
	Total int64     `json:"total"`
	Pages []PageRef `json:"pages,omitempty"`
}

// PageRef records a page whose text is stored.
type PageRef struct {
	Page   int    `json:"page"`
	Method string `json:"method"`
	Chars  int    `json:"chars"`
}

// OCR extracts each page's text (text layer or tesseract, see
// ocr.Engine.PageText), storing each in the blob store as it is done and
// heartbeating the progress.
func (a *DocumentActivities) OCR(ctx context.Context, in job.OCRInput) (job.StepOutput[job.OCRResult], error) {
	var out job.StepOutput[job.OCRResult]
	doc, err := a.Docs.Get(ctx, in.DocumentID)
	if errors.Is(err, documents.ErrNotFound) {
		return out, temporal.NewNonRetryableApplicationError("no document has id "+in.DocumentID, string(job.FailDocumentNotFound), nil)
	}
	if err != nil {
		return out, err
	}
	path, err := a.Docs.CopyToFile(ctx, doc.ID, a.TempDir)
	if err != nil {
		return out, fmt.Errorf("fetch document: %w", err)
	}
	defer os.Remove(path)

	info, err := a.Engine.Inspect(ctx, path, doc.MediaType)
	if err != nil {
		return out, documentError(err)
	}
	progress := OCRProgress{Total: int64(info.Pages)}
	done := map[int]PageRef{}
	if activity.HasHeartbeatDetails(ctx) {
		var prev OCRProgress
		if err := activity.GetHeartbeatDetails(ctx, &prev); err == nil {
			for _, p := range prev.Pages {
				// Trust the record only if the text is really there.
				if _, err := a.Docs.GetText(ctx, documents.PageKey(in.JobID, p.Page)); err == nil {
					done[p.Page] = p
				}
			}
			activity.GetLogger(ctx).Info("resuming OCR", "pages_done", len(done), "pages", info.Pages)
		}
	}

	var mu sync.Mutex
	record := func(ref PageRef) {
		mu.Lock()
		defer mu.Unlock()
		done[ref.Page] = ref
		progress.Done = int64(len(done))
		progress.Pages = sortedRefs(done)
		// After the last page the completion follows at once and carries
		// every page: a heartbeat would only cost the server a write.
		if progress.Done < progress.Total {
			activity.RecordHeartbeat(ctx, progress)
		}
	}
	progress.Done = int64(len(done))
	progress.Pages = sortedRefs(done)
	if len(done) > 0 {
		// Keep the resumed pages on record at once, in case this attempt
		// dies too. Otherwise the total goes out with the first page or
		// the first tick below, whichever comes first: a document read in
		// under a second then costs no heartbeat at all.
		activity.RecordHeartbeat(ctx, progress)
	}

	// Heartbeat while a slow page is being read, so the heartbeat timeout
	// measures a dead worker, not a dense page, and a cancellation (which
	// arrives in a heartbeat's response) stops tesseract within a second
	// or two. The SDK throttles what is sent.
	stopBeat := make(chan struct{})
	defer close(stopBeat)
	go func() {
		every := a.BeatEvery
		if every <= 0 {
			every = time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stopBeat:
				return
			case <-t.C:
				mu.Lock()
				if progress.Done < progress.Total {
					activity.RecordHeartbeat(ctx, progress)
				}
				mu.Unlock()
			}
		}
	}()

	// The pages that need no OCR (text layer, or empty) are read for the
	// whole document at once: two tool runs instead of several per page,
	// which for a long text PDF is most of the step's time. Pages already
	// done are still skipped one by one below, so resuming stays exact.
	var layer *ocr.TextLayer
	if len(done) < info.Pages {
		if layer, err = a.Engine.ReadTextLayer(ctx, path, doc.MediaType, in.Language); err != nil {
			return out, documentError(err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan int)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range max(1, min(a.parallelism(), info.Pages)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range pages {
				p, ok := layer.Page(n)
				var err error
				if !ok {
					p, err = a.Engine.PageText(ctx, path, doc.MediaType, n, in.Language)
				}
				if err == nil {
					err = a.Docs.PutText(ctx, documents.PageKey(in.JobID, n), p.Text)
				}
				if err != nil {
					select {
					case errc <- fmt.Errorf("page %d: %w", n, err):
					default:
					}
					cancel()
					return
				}
				record(PageRef{Page: n, Method: p.Method, Chars: len(p.Text)})
			}
		}()
	}
feed:
	for n := 1; n <= info.Pages; n++ {
		mu.Lock()
		_, ok := done[n]
		mu.Unlock()
		if ok {
			continue
		}
		select {
		case pages <- n:
		case <-ctx.Done():
			break feed
		}
	}
	close(pages)
	wg.Wait()
	select {
	case err := <-errc:
		return out, documentError(err)
	default:
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}

	refs := sortedRefs(done)
	total := 0
	for _, r := range refs {
		total += r.Chars
	}
	res := job.OCRResult{Pages: info.Pages, PageTexts: make([]job.PageText, 0, len(refs))}
	for _, r := range refs {
		pt := job.PageText{Page: r.Page, Method: r.Method, Chars: r.Chars}
		if total <= InlineTextLimit {
			text, err := a.Docs.GetText(ctx, documents.PageKey(in.JobID, r.Page))
			if err != nil {
				return out, fmt.Errorf("read page %d: %w", r.Page, err)
			}
			pt.Text = text
		} else {
			pt.URL = fmt.Sprintf("/jobs/%s/pages/%d", in.JobID, r.Page)
		}
		res.PageTexts = append(res.PageTexts, pt)
	}
	out.Result = res
	out.Report = report(ctx, a.Worker)
	out.Report.Progress = &job.Progress{Done: int64(info.Pages), Total: int64(info.Pages)}
	return out, nil
}

func (a *DocumentActivities) parallelism() int {
	if a.Parallelism > 0 {
		return a.Parallelism
	}
	return runtime.NumCPU()
}

func sortedRefs(m map[int]PageRef) []PageRef {
	refs := make([]PageRef, 0, len(m))
	for _, r := range m {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Page < refs[j].Page })
	return refs
}

// documentError makes a bad document fail the job once: retrying cannot
// make a corrupt or encrypted file readable.
func documentError(err error) error {
	var de *ocr.DocumentError
	if errors.As(err, &de) {
		return temporal.NewNonRetryableApplicationError(de.Error(), string(de.Kind), nil)
	}
	return err
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
