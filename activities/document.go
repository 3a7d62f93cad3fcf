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
	"github.com/docket-dev/docket/internal/metrics"
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
	a, err := a.forTenant(in.Tenant)
	if err != nil {
		return out, err
	}
	doc, err := a.localCopy(ctx, in.DocumentID)
	if err != nil {
		return out, err
	}
	// Linked before any output is stored, so that deleting the document
	// finds every output of this job.
	if err := a.Docs.LinkJob(ctx, in.DocumentID, in.JobID); err != nil {
		return out, err
	}
	defer os.Remove(doc.path)
	info, err := a.Engine.Inspect(ctx, doc.path, doc.mediaType)
	if err != nil {
		return out, documentError(err)
	}
	doc.pages = info.Pages

	progress := newPageProgress(doc.pages, a.resumeFrom(ctx, in.JobID, doc.pages))
	progress.keepResumed(ctx)
	ticker := startHeartbeatTicker(ctx, a.beatEvery(), progress)
	defer ticker.Stop()

	layer, err := a.textLayer(ctx, doc, in.Language, progress)
	if err != nil {
		return out, err
	}
	if err := a.readPages(ctx, in, doc, layer, progress); err != nil {
		return out, err
	}
	res, err := a.assemble(ctx, in.JobID, doc.pages, progress.refs())
	if err != nil {
		return out, err
	}
	out.Result = res
	out.Report = report(ctx, a.Worker)
	out.Report.Progress = &job.Progress{Done: int64(doc.pages), Total: int64(doc.pages)}
	return out, nil
}

// forTenant returns the activities working in the tenant's part of the
// blob store. The tenant comes from the job's history; one that is not a
// tenant name (a DocketTenant set by hand on the temporal CLI) fails the
// step once rather than name a path outside the tenants' parts.
func (a *DocumentActivities) forTenant(tenant string) (*DocumentActivities, error) {
	if tenant != "" && !job.ValidTenant(tenant) {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the job's %s %q is not a tenant name", job.TenantSearchAttribute, tenant), string(job.FailInvalidInput), nil)
	}
	t := *a
	t.Docs = a.Docs.ForTenant(tenant)
	return &t, nil
}

// ocrDocument is the local copy of the document an OCR attempt reads: the
// tools read files, not blobs.
type ocrDocument struct {
	path      string
	mediaType string
	pages     int
}

// localCopy copies the document out of the store for the tools. A missing
// document fails the job once: no retry can make it appear.
func (a *DocumentActivities) localCopy(ctx context.Context, id string) (ocrDocument, error) {
	doc, err := a.Docs.Get(ctx, id)
	if errors.Is(err, documents.ErrNotFound) {
		return ocrDocument{}, temporal.NewNonRetryableApplicationError("no document has id "+id, string(job.FailDocumentNotFound), nil)
	}
	if err != nil {
		return ocrDocument{}, err
	}
	path, err := a.Docs.CopyToFile(ctx, doc.ID, a.TempDir)
	if err != nil {
		return ocrDocument{}, fmt.Errorf("fetch document: %w", err)
	}
	return ocrDocument{path: path, mediaType: doc.MediaType}, nil
}

// resumeFrom returns the pages a previous attempt recorded in its last
// heartbeat, so that a retry after a crash reads only the others. A page
// counts only if its text is really in the store; a first attempt has none.
func (a *DocumentActivities) resumeFrom(ctx context.Context, jobID string, pages int) map[int]PageRef {
	done := map[int]PageRef{}
	if !activity.HasHeartbeatDetails(ctx) {
		return done
	}
	var prev OCRProgress
	if err := activity.GetHeartbeatDetails(ctx, &prev); err != nil {
		return done
	}
	for _, p := range prev.Pages {
		// Trust the record only if the text is really there.
		if _, err := a.Docs.GetText(ctx, documents.PageKey(jobID, p.Page)); err == nil {
			done[p.Page] = p
		}
	}
	activity.GetLogger(ctx).Info("resuming OCR", "pages_done", len(done), "pages", pages)
	return done
}

// pageProgress is what an OCR attempt has stored so far, shared by its page
// workers and its heartbeat ticker. Every heartbeat carries all of it, so
// that a retry resumes page-exactly (see resumeFrom).
type pageProgress struct {
	mu   sync.Mutex
	done map[int]PageRef
	beat OCRProgress // the heartbeat: done, as sorted refs, and the total
}

func newPageProgress(total int, resumed map[int]PageRef) *pageProgress {
	return &pageProgress{done: resumed, beat: OCRProgress{
		Done:  int64(len(resumed)),
		Total: int64(total),
		Pages: sortedRefs(resumed),
	}}
}

// keepResumed heartbeats the resumed pages at once, in case this attempt
// dies too. Without resumed pages it sends nothing: the total goes out with
// the first page or the first tick, whichever comes first, so a document
// read in under a second costs no heartbeat at all.
func (p *pageProgress) keepResumed(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.done) > 0 {
		activity.RecordHeartbeat(ctx, p.beat)
	}
}

// record notes a stored page and heartbeats the progress.
func (p *pageProgress) record(ctx context.Context, ref PageRef) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[ref.Page] = ref
	p.beat.Done = int64(len(p.done))
	p.beat.Pages = sortedRefs(p.done)
	// After the last page the completion follows at once and carries
	// every page: a heartbeat would only cost the server a write.
	if p.beat.Done < p.beat.Total {
		activity.RecordHeartbeat(ctx, p.beat)
	}
}

// beatUnfinished heartbeats the progress as it stands, unless every page is
// done (for the same reason as in record).
func (p *pageProgress) beatUnfinished(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.beat.Done < p.beat.Total {
		activity.RecordHeartbeat(ctx, p.beat)
	}
}

// has reports whether page n is stored already.
func (p *pageProgress) has(n int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.done[n]
	return ok
}

// remaining is how many pages are still to be read.
func (p *pageProgress) remaining() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(p.beat.Total) - len(p.done)
}

// refs returns the stored pages in page order.
func (p *pageProgress) refs() []PageRef {
	p.mu.Lock()
	defer p.mu.Unlock()
	return sortedRefs(p.done)
}

// heartbeatTicker heartbeats an attempt's progress on a clock while a slow
// page is being read, so that the heartbeat timeout measures a dead worker,
// not a dense page, and a cancellation (which arrives in a heartbeat's
// response) stops tesseract within a second or two. The SDK throttles what
// is sent.
type heartbeatTicker struct {
	stop chan struct{}
}

func startHeartbeatTicker(ctx context.Context, every time.Duration, p *pageProgress) *heartbeatTicker {
	t := &heartbeatTicker{stop: make(chan struct{})}
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-tick.C:
				p.beatUnfinished(ctx)
			}
		}
	}()
	return t
}

// Stop ends the heartbeats; it does not wait for one being sent.
func (t *heartbeatTicker) Stop() { close(t.stop) }

// beatEvery is the ticker's period: BeatEvery, or a second.
func (a *DocumentActivities) beatEvery() time.Duration {
	if a.BeatEvery > 0 {
		return a.BeatEvery
	}
	return time.Second
}

// textLayer reads the pages that need no OCR (text layer, or empty) for the
// whole document at once: two tool runs instead of several per page, which
// for a long text PDF is most of the step's time. With every page resumed
// it reads nothing (a nil layer has no pages). Pages already done are still
// skipped one by one in readPages, so resuming stays exact.
func (a *DocumentActivities) textLayer(ctx context.Context, doc ocrDocument, language string, p *pageProgress) (*ocr.TextLayer, error) {
	if p.remaining() <= 0 {
		return nil, nil
	}
	layer, err := a.Engine.ReadTextLayer(ctx, doc.path, doc.mediaType, language)
	if err != nil {
		return nil, documentError(err)
	}
	return layer, nil
}

// readPages reads the pages not yet done with a pool of page workers
// (tesseract is single-threaded, see Parallelism), storing and recording
// each. The first failure stops the others and is the attempt's error.
func (a *DocumentActivities) readPages(ctx context.Context, in job.OCRInput, doc ocrDocument, layer *ocr.TextLayer, p *pageProgress) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan int)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range max(1, min(a.parallelism(), doc.pages)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range pages {
				ref, err := a.readPage(ctx, in, doc, layer, n)
				if err != nil {
					select {
					case errc <- err:
					default:
					}
					cancel()
					return
				}
				p.record(ctx, ref)
			}
		}()
	}
	feedPages(ctx, pages, doc.pages, p)
	wg.Wait()
	select {
	case err := <-errc:
		return documentError(err)
	default:
	}
	return ctx.Err()
}

// feedPages hands the workers, in order, each page not done yet, until the
// pages run out or ctx ends; then it closes pages, which lets the workers
// return.
func feedPages(ctx context.Context, pages chan<- int, total int, p *pageProgress) {
	defer close(pages)
	for n := 1; n <= total; n++ {
		if p.has(n) {
			continue
		}
		select {
		case pages <- n:
		case <-ctx.Done():
			return
		}
	}
}

// readPage reads page n, from the text layer when the layer has it and
// with tesseract when not, and stores its text.
func (a *DocumentActivities) readPage(ctx context.Context, in job.OCRInput, doc ocrDocument, layer *ocr.TextLayer, n int) (PageRef, error) {
	start := time.Now()
	p, ok := layer.Page(n)
	var err error
	if !ok {
		p, err = a.Engine.PageText(ctx, doc.path, doc.mediaType, n, in.Language)
	}
	if err == nil {
		metrics.OCRPage(p.Method, time.Since(start))
		err = a.Docs.PutText(ctx, documents.PageKey(in.JobID, n), p.Text)
	}
	if err != nil {
		return PageRef{}, fmt.Errorf("page %d: %w", n, err)
	}
	return PageRef{Page: n, Method: p.Method, Chars: len(p.Text)}, nil
}

// assemble builds the step's result from the stored pages: their texts
// inline when all of them fit in InlineTextLimit, else links to them, so
// that a long document does not bloat workflow history.
func (a *DocumentActivities) assemble(ctx context.Context, jobID string, pages int, refs []PageRef) (job.OCRResult, error) {
	total := 0
	for _, r := range refs {
		total += r.Chars
	}
	res := job.OCRResult{Pages: pages, PageTexts: make([]job.PageText, 0, len(refs))}
	for _, r := range refs {
		pt := job.PageText{Page: r.Page, Method: r.Method, Chars: r.Chars}
		if total <= InlineTextLimit {
			text, err := a.Docs.GetText(ctx, documents.PageKey(jobID, r.Page))
			if err != nil {
				return job.OCRResult{}, fmt.Errorf("read page %d: %w", r.Page, err)
			}
			pt.Text = text
		} else {
			pt.URL = fmt.Sprintf("/jobs/%s/pages/%d", jobID, r.Page)
		}
		res.PageTexts = append(res.PageTexts, pt)
	}
	return res, nil
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
