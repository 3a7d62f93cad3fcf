package activities

import (
	"context"
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
	"github.com/docket-dev/docket/internal/metrics"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/ocr"
)

// Bounds of the ocr step a worker applies unless configured otherwise.
const (
	// DefaultMaxPages is the longest document the ocr step reads
	// (DOCKET_MAX_PAGES).
	DefaultMaxPages = 2000
	// maxBatches bounds how many ocr_pages activities one document is
	// shared into: a longer document gets larger batches, so that its
	// history stays a few thousand events however long it is (Temporal
	// warns at 10,240 events and refuses 51,200), without Continue-As-New.
	maxBatches = 250
	// storeWorkers is how many text-layer pages an attempt stores at once.
	storeWorkers = 8
)

// OCRProgress is the heartbeat of the ocr and ocr_pages activities:
// progress for the job view, and the pages already stored, so that a retry
// after a crash resumes instead of starting over.
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
	// Cached: the text came from the OCR cache.
	Cached bool `json:"cached,omitempty"`
	// Error: the page could not be read; its stored text is empty.
	Error *job.Error `json:"error,omitempty"`
}

// pageText is the reference of a stored page in a step's result.
func (r PageRef) pageText() job.PageText {
	return job.PageText{Page: r.Page, Method: r.Method, Chars: r.Chars, Cached: r.Cached, Error: r.Error}
}

func refOf(p job.PageText) PageRef {
	return PageRef{Page: p.Page, Method: p.Method, Chars: p.Chars, Cached: p.Cached, Error: p.Error}
}

// pageJob is what reading a page needs to know of its job.
type pageJob struct {
	JobID, DocumentID, Language string
	Strict                      bool
	// cacheChecked: the pages left to read were looked up in the OCR
	// cache already (by the ocr activity, just before), so readPage does
	// not read the cache again for each.
	cacheChecked bool
}

// OCR extracts each page's text (text layer, OCR cache or tesseract, see
// readPage), storing each in the blob store as it is done and heartbeating
// the progress. With in.FanOut, a document with more pages for tesseract
// than one batch answers, once its text layer and cached pages are stored,
// with a plan: the workflow shares the rest out to ocr_pages activities on
// every OCR worker.
func (a *DocumentActivities) OCR(ctx context.Context, in job.OCRInput) (job.StepOutput[job.OCRResult], error) {
	var out job.StepOutput[job.OCRResult]
	a, doc, err := a.open(ctx, in.Tenant, in.DocumentID)
	if err != nil {
		return out, err
	}
	defer os.Remove(doc.path)
	// Linked before any output is stored, so that deleting the document
	// finds every output of this job.
	if err := a.Docs.LinkJob(ctx, in.DocumentID, in.JobID); err != nil {
		return out, err
	}
	info, err := a.Engine.Inspect(ctx, doc.path, doc.mediaType)
	if err != nil {
		return out, documentError(err)
	}
	doc.pages = info.Pages
	if limit := a.maxPages(); doc.pages > limit {
		return out, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the document has %d pages; this service reads at most %d (DOCKET_MAX_PAGES)", doc.pages, limit), string(job.FailTooManyPages), nil)
	}
	pj := pageJob{JobID: in.JobID, DocumentID: in.DocumentID, Language: in.Language, Strict: in.Strict}

	progress := newPageProgress(doc.pages, a.resumeFrom(ctx, in.JobID, doc.pages))
	progress.keepResumed(ctx)
	ticker := startHeartbeatTicker(ctx, a.beatEvery(), progress)
	defer ticker.Stop()

	layer, err := a.textLayer(ctx, doc, in.Language, progress)
	if err != nil {
		return out, err
	}
	// The text layer's pages and the cached ones first: no tesseract.
	// Storing them is blob-store I/O, not CPU: many at once.
	var inLayer, rest []int
	for n := 1; n <= doc.pages; n++ {
		if progress.has(n) {
			continue
		}
		if _, ok := layer.Page(n); ok {
			inLayer = append(inLayer, n)
			continue
		}
		if ref, ok := a.fromCache(ctx, pj, n); ok {
			progress.record(ctx, ref)
			continue
		}
		rest = append(rest, n)
	}
	if err := a.readPages(ctx, pj, doc, layer, inLayer, progress, storeWorkers); err != nil {
		return out, err
	}
	if batch := a.batchPages(len(rest)); in.FanOut && len(rest) > batch {
		out.Result = job.OCRResult{Pages: doc.pages, Plan: &job.OCRPlan{Batches: split(rest, batch)}}
		for _, r := range progress.refs() {
			out.Result.PageTexts = append(out.Result.PageTexts, r.pageText())
		}
		out.Report = report(ctx, a.Worker)
		activity.GetLogger(ctx).Info("sharing the document's pages out", "pages", doc.pages, "ocr_pages", len(rest), "batches", len(out.Result.Plan.Batches))
		return out, nil
	}
	pj.cacheChecked = true
	if err := a.readPages(ctx, pj, doc, nil, rest, progress, a.parallelism()); err != nil {
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

// OCRPages reads one batch of a long document's pages with tesseract (the
// ocr activity found no text layer for them), storing each page's text as
// it is done. A retry resumes page-exactly, as the ocr activity does.
func (a *DocumentActivities) OCRPages(ctx context.Context, in job.OCRPagesInput) (job.StepOutput[job.OCRPagesResult], error) {
	var out job.StepOutput[job.OCRPagesResult]
	a, doc, err := a.open(ctx, in.Tenant, in.DocumentID)
	if err != nil {
		return out, err
	}
	defer os.Remove(doc.path)
	doc.pages = maxPage(in.Pages)
	pj := pageJob{JobID: in.JobID, DocumentID: in.DocumentID, Language: in.Language, Strict: in.Strict}

	progress := newPageProgress(len(in.Pages), a.resumeFrom(ctx, in.JobID, len(in.Pages)))
	progress.keepResumed(ctx)
	ticker := startHeartbeatTicker(ctx, a.beatEvery(), progress)
	defer ticker.Stop()
	if err := a.readPages(ctx, pj, doc, nil, in.Pages, progress, a.parallelism()); err != nil {
		return out, err
	}
	for _, r := range progress.refs() {
		out.Result.PageTexts = append(out.Result.PageTexts, r.pageText())
	}
	out.Report = report(ctx, a.Worker)
	out.Report.Progress = &job.Progress{Done: int64(len(in.Pages)), Total: int64(len(in.Pages))}
	return out, nil
}

// OCRAssemble builds a long document's ocr result once every batch is read.
func (a *DocumentActivities) OCRAssemble(ctx context.Context, in job.OCRAssembleInput) (job.StepOutput[job.OCRResult], error) {
	var out job.StepOutput[job.OCRResult]
	a, err := a.forTenant(in.Tenant)
	if err != nil {
		return out, err
	}
	refs := make([]PageRef, len(in.PageTexts))
	for i, p := range in.PageTexts {
		refs[i] = refOf(p)
	}
	res, err := a.assemble(ctx, in.JobID, in.Pages, refs)
	if err != nil {
		return out, err
	}
	out.Result = res
	out.Report = report(ctx, a.Worker)
	return out, nil
}

// open returns the activities working in the tenant's part of the store
// and a local copy of the document, which the caller removes.
func (a *DocumentActivities) open(ctx context.Context, tenant, id string) (*DocumentActivities, ocrDocument, error) {
	a, err := a.forTenant(tenant)
	if err != nil {
		return nil, ocrDocument{}, err
	}
	doc, err := a.localCopy(ctx, id)
	return a, doc, err
}

// split cuts pages into batches of at most size pages.
func split(pages []int, size int) [][]int {
	var batches [][]int
	for len(pages) > 0 {
		n := min(size, len(pages))
		batches = append(batches, pages[:n:n])
		pages = pages[n:]
	}
	return batches
}

func maxPage(pages []int) int {
	m := 0
	for _, p := range pages {
		m = max(m, p)
	}
	return m
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
	// stale: beat.Pages lags done; sorted again only for a heartbeat,
	// since sorting every page's list on every page is quadratic (a
	// 5,000-page text layer spent seconds in it).
	stale    bool
	lastBeat time.Time
}

// recordBeatEvery is how often recording pages heartbeats at most: the
// SDK sends one heartbeat per DOCKET_HEARTBEAT_INTERVAL anyway, and
// encoding every page's list for each page recorded is quadratic too.
const recordBeatEvery = 200 * time.Millisecond

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
		p.beatLocked(ctx)
	}
}

// record notes a stored page and heartbeats the progress, at most every
// recordBeatEvery (the ticker sends the rest).
func (p *pageProgress) record(ctx context.Context, ref PageRef) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[ref.Page] = ref
	p.beat.Done = int64(len(p.done))
	p.stale = true
	// After the last page the completion follows at once and carries
	// every page: a heartbeat would only cost the server a write.
	if p.beat.Done < p.beat.Total && time.Since(p.lastBeat) >= recordBeatEvery {
		p.beatLocked(ctx)
	}
}

// beatUnfinished heartbeats the progress as it stands, unless every page is
// done (for the same reason as in record).
func (p *pageProgress) beatUnfinished(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.beat.Done < p.beat.Total {
		p.beatLocked(ctx)
	}
}

// beatLocked heartbeats every page done so far; p.mu is held.
func (p *pageProgress) beatLocked(ctx context.Context) {
	if p.stale {
		p.beat.Pages = sortedRefs(p.done)
		p.stale = false
	}
	activity.RecordHeartbeat(ctx, p.beat)
	p.lastBeat = time.Now()
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

// readPages reads pages (those not done yet) with a pool of workers
// goroutines (for tesseract's pages one per core, see Parallelism: it is
// single-threaded), storing and recording
// each. The first failure stops the others and is the attempt's error.
func (a *DocumentActivities) readPages(ctx context.Context, pj pageJob, doc ocrDocument, layer *ocr.TextLayer, list []int, p *pageProgress, workers int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan int)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range max(1, min(workers, len(list))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range pages {
				ref, err := a.readPage(ctx, pj, doc, layer, n)
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
	feedPages(ctx, pages, list, p)
	wg.Wait()
	select {
	case err := <-errc:
		return documentError(err)
	default:
	}
	return ctx.Err()
}

// feedPages hands the workers, in order, each page of list not done yet,
// until the pages run out or ctx ends; then it closes pages, which lets the
// workers return.
func feedPages(ctx context.Context, pages chan<- int, list []int, p *pageProgress) {
	defer close(pages)
	for _, n := range list {
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

// readPage reads page n: from the text layer when the layer has it, else
// from the OCR cache, else with tesseract within the page time limit; it
// stores the text under the job and, read by tesseract, in the cache. A
// page that cannot be read (see pageFailure) is recorded with its error and
// an empty text, unless the job is strict: then it fails the step once.
func (a *DocumentActivities) readPage(ctx context.Context, pj pageJob, doc ocrDocument, layer *ocr.TextLayer, n int) (PageRef, error) {
	start := time.Now()
	if p, ok := layer.Page(n); ok {
		metrics.OCRPage(p.Method, time.Since(start))
		return a.storePage(ctx, pj, n, p, false)
	}
	if !pj.cacheChecked {
		if ref, ok := a.fromCache(ctx, pj, n); ok {
			metrics.OCRPage(metrics.OCRMethodCached, time.Since(start))
			return ref, nil
		}
	}
	p, err := a.Engine.PageText(ctx, doc.path, doc.mediaType, n, pj.Language)
	if err != nil {
		f, ok := pageFailure(err)
		if !ok {
			return PageRef{}, fmt.Errorf("page %d: %w", n, err)
		}
		f.Message = fmt.Sprintf("page %d: %s", n, f.Message)
		if pj.Strict {
			return PageRef{}, temporal.NewNonRetryableApplicationError(f.Message, string(f.Type), nil)
		}
		activity.GetLogger(ctx).Warn("a page could not be read", "page", n, "type", f.Type)
		if err := a.Docs.PutText(ctx, documents.PageKey(pj.JobID, n), ""); err != nil {
			return PageRef{}, fmt.Errorf("page %d: %w", n, err)
		}
		return PageRef{Page: n, Method: job.PageMethodNone, Error: &f}, nil
	}
	metrics.OCRPage(p.Method, time.Since(start))
	return a.storePage(ctx, pj, n, p, true)
}

// storePage stores page n's text under the job and, when cache says the
// text was worth reading once only (tesseract's), in the OCR cache.
func (a *DocumentActivities) storePage(ctx context.Context, pj pageJob, n int, p ocr.Page, cache bool) (PageRef, error) {
	if err := a.Docs.PutText(ctx, documents.PageKey(pj.JobID, n), p.Text); err != nil {
		return PageRef{}, fmt.Errorf("page %d: %w", n, err)
	}
	if cache {
		if key, ok := a.cacheKey(ctx, pj, n); ok {
			// A failed cache write costs a later job one page read.
			if err := a.Docs.PutText(ctx, key, p.Method+"\n"+p.Text); err != nil {
				activity.GetLogger(ctx).Warn("could not cache a page's text", "page", n, "error", err)
			}
		}
	}
	return PageRef{Page: n, Method: p.Method, Chars: len(p.Text)}, nil
}

// fromCache stores page n's text from the OCR cache, if an earlier job of
// the tenant read it (see documents.CacheKey).
func (a *DocumentActivities) fromCache(ctx context.Context, pj pageJob, n int) (PageRef, bool) {
	key, ok := a.cacheKey(ctx, pj, n)
	if !ok {
		return PageRef{}, false
	}
	s, err := a.Docs.GetText(ctx, key)
	if err != nil {
		return PageRef{}, false
	}
	method, text, ok := strings.Cut(s, "\n")
	if !ok {
		return PageRef{}, false
	}
	if err := a.Docs.PutText(ctx, documents.PageKey(pj.JobID, n), text); err != nil {
		return PageRef{}, false
	}
	return PageRef{Page: n, Method: method, Chars: len(text), Cached: true}, true
}

// cacheKey is page n's key in the OCR cache; none when the cache is off or
// the engine's version cannot be told (a cache without it could serve the
// text of an older engine).
func (a *DocumentActivities) cacheKey(ctx context.Context, pj pageJob, n int) (string, bool) {
	if a.NoCache {
		return "", false
	}
	v, err := a.engineVersion(ctx, pj.Language)
	if err != nil {
		return "", false
	}
	return documents.CacheKey(pj.DocumentID, pj.Language, v, n), true
}

// pageFailure says whether err is a failure of one page that the others do
// not share, and which: the page's own time limit (ocr.Engine.PageTimeout),
// a page the engine cannot read (a damaged image), or one too large.
// Anything else (a missing language, a crashed tool, a cancellation) is the
// whole step's.
func pageFailure(err error) (job.Error, bool) {
	var pe *ocr.PageError
	if errors.As(err, &pe) {
		msg := pe.Msg
		if pe.Kind == ocr.KindPageTimeout {
			msg = "reading the page took longer than DOCKET_OCR_PAGE_TIMEOUT"
		}
		return job.Error{Type: pe.Kind, Message: msg}, true
	}
	var de *ocr.DocumentError
	if errors.As(err, &de) && de.Kind == ocr.KindTooLarge {
		return job.Error{Type: job.FailImageTooLarge, Message: de.Msg}, true
	}
	return job.Error{}, false
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
		pt := r.pageText()
		if r.Cached {
			res.CachedPages++
		}
		if r.Error != nil {
			res.FailedPages++
			res.PageTexts = append(res.PageTexts, pt)
			continue
		}
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

// engineVersion is the OCR engine's version for the cache keys of lang
// (ocr.Engine.Version: tools, language data and Docket's pipeline).
func (a *DocumentActivities) engineVersion(ctx context.Context, lang string) (string, error) {
	return a.Engine.Version(ctx, lang)
}

func (a *DocumentActivities) maxPages() int {
	if a.MaxPages > 0 {
		return a.MaxPages
	}
	return DefaultMaxPages
}

// batchPages is how many pages one ocr_pages activity reads, for a
// document with pending pages left to tesseract: BatchPages, or one page
// per page worker, so that a batch is one round of the worker's cores and
// another job's task waits about a page's time for the worker's OCR slot;
// more for a document that would otherwise be shared into more than
// maxBatches.
func (a *DocumentActivities) batchPages(pending int) int {
	size := a.BatchPages
	if size <= 0 {
		size = a.parallelism()
	}
	return max(size, (pending+maxBatches-1)/maxBatches)
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
