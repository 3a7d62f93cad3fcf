package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/docket-dev/docket/tools/testdocs"
)

// scaleSizes are scenario 14's document sizes.
type scaleSizes struct {
	loadPages int // (a) the scanned document read while one-page jobs run
	tputPages int // (b), (c) the scanned document of the throughput runs
	textPages int // (d) the text-layer PDF
	idleJobs  int // (a) one-page jobs on the idle stack, before and after
	busyJobs  int // (a), (d) most one-page jobs while a document runs
}

func scaleSizesFor(short bool) scaleSizes {
	if short {
		return scaleSizes{loadPages: 24, tputPages: 12, textPages: 1000, idleJobs: 2, busyJobs: 3}
	}
	// The sizes: on two cores the scanned pages (five lines each)
	// are read at about 3 to 4 pages per second, so the scenario takes
	// about seven minutes.
	return scaleSizes{loadPages: 500, tputPages: 200, textPages: 5000, idleJobs: 5, busyJobs: 12}
}

// scaleImages is how many distinct page images a scanned document cycles
// through: rendering is the harness's cost, not Docket's, and OCR reads
// each page whatever its neighbours hold.
const scaleImages = 16

// scaleDoc is a generated scanned PDF and what each page must read as.
type scaleDoc struct {
	pdf   []byte
	path  string // on disk, for raw tesseract
	id    string // after POST /documents
	pages []*ocrPage
}

// scaleScannedDoc renders an image-only PDF of n pages; variant goes into
// every page so that each document is new to the OCR cache (which keys by
// document, and documents are stored by content).
func scaleScannedDoc(dir, variant string, n int) (*scaleDoc, error) {
	imgs := make([]testdocs.Page, 0, n)
	var cycle []*ocrPage
	for k := range min(n, scaleImages) {
		marker := ocrMarkers[k%len(ocrMarkers)]
		lines := append([]string{fmt.Sprintf("Docket scale test %s, image %d, marker word %s.", variant, k+1, marker)}, ocrBody[:4]...)
		img, err := testdocs.Render(lines, ocrPX)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, testdocs.Page{Image: img})
		cycle = append(cycle, &ocrPage{marker: marker, words: ocrWords(strings.Join(lines, " "))})
	}
	d := &scaleDoc{path: filepath.Join(dir, "scanned-"+variant+".pdf")}
	pages := make([]testdocs.Page, n)
	for i := range pages {
		pages[i] = imgs[i%len(imgs)]
		c := cycle[i%len(cycle)]
		d.pages = append(d.pages, &ocrPage{n: i + 1, marker: c.marker, words: c.words})
	}
	d.pdf = testdocs.PDF(pages)
	return d, os.WriteFile(d.path, d.pdf, 0o644)
}

// scaleTextDoc is a PDF of n pages with a text layer and no image.
func scaleTextDoc(n int) (*scaleDoc, error) {
	pages := make([]testdocs.Page, n)
	d := &scaleDoc{}
	for i := range pages {
		marker := ocrMarkers[i%len(ocrMarkers)]
		lines := append([]string{fmt.Sprintf("Docket text layer page %d of %d, marker word %s.", i+1, n, marker)}, ocrBody...)
		pages[i] = testdocs.Page{Text: lines}
		d.pages = append(d.pages, &ocrPage{n: i + 1, marker: marker, words: ocrWords(strings.Join(lines, " "))})
	}
	d.pdf = testdocs.PDF(pages)
	return d, nil
}

// countingTesseract is a tesseract that appends a line to $BENCH_TESSERACT_COUNT
// for each recognition (output to stdout), then is the real one.
const countingTesseract = `#!/bin/sh
case " $* " in
*" stdout "*) echo run >>"$BENCH_TESSERACT_COUNT" ;;
esac
exec %q "$@"
`

// scaleStack is scenario 14's server with its API and one or two workers.
type scaleStack struct {
	st      *Stack
	api     *apiJobs
	env     []string // every worker's environment
	extra   *Proc    // the second worker, while it runs
	count   string   // the tesseract counter's file
	workers []*Proc
}

func (s *scaleStack) tesseractRuns() int {
	b, _ := os.ReadFile(s.count)
	return bytes.Count(b, []byte("\n"))
}

// pids are the processes whose CPU a document's pages cost: the workers
// (their children are counted apart), the API and the server.
func (s *scaleStack) pids() []int {
	ps := []int{s.st.API.PID(), s.st.Server.PID()}
	for _, w := range s.workers {
		ps = append(ps, w.PID())
	}
	return ps
}

func (s *scaleStack) childCPU() time.Duration {
	var d time.Duration
	for _, w := range s.workers {
		d += childCPU(w.PID())
	}
	return d
}

// scaleScenario measures long documents: a one-page job's latency while a
// long scanned document is read, against the idle stack; a scanned
// document's pages per second with one OCR worker and with two against raw
// tesseract at the same parallelism, with the pages each worker read and
// the CPU per page; the same document again from the OCR cache; and a long
// text-layer PDF, with a one-page job beside it.
func scaleScenario(ctx context.Context, b *Bench, sec *Section) error {
	if !hasTesseract() {
		sec.Para("**Skipped:** `tesseract` is not on PATH (`scripts/deps.sh` installs it).")
		return nil
	}
	real, err := exec.LookPath("tesseract")
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		sec.Para("**Skipped:** `pdftoppm` is not on PATH.")
		return nil
	}
	sz := scaleSizesFor(b.Set.Short)
	par := runtime.NumCPU()
	dir := filepath.Join(b.Env.Dir, "s14")
	tools := filepath.Join(dir, "tools")
	if err := os.MkdirAll(tools, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tools, "tesseract"), fmt.Appendf(nil, countingTesseract, real), 0o755); err != nil {
		return err
	}

	srv, err := b.Env.StartServer(ctx, "s14", storageFileWAL, tuningFast)
	if err != nil {
		return err
	}
	defer srv.Stop()
	s := &scaleStack{count: filepath.Join(dir, "tesseract-runs")}
	// Docket's defaults but for the counting tesseract and the page limit
	// (the text-layer PDF is longer than DOCKET_MAX_PAGES's 2000): one OCR
	// activity at a time per worker, pages at once by core.
	s.env = []string{
		"PATH=" + tools + string(os.PathListSeparator) + os.Getenv("PATH"),
		"BENCH_TESSERACT_COUNT=" + s.count,
		"DOCKET_OCR_CONCURRENCY=1",
		fmt.Sprintf("DOCKET_MAX_PAGES=%d", sz.textPages),
		// On, as by default (the bench's stacks turn it off): (c)
		// measures it, and every other document is new to it.
		"DOCKET_OCR_CACHE=true",
	}
	// The API refuses a longer upload too (it counts pages): the same limit.
	apiEnv := []string{fmt.Sprintf("DOCKET_MAX_PAGES=%d", sz.textPages)}
	if s.st, err = b.Env.StartStackWith(ctx, srv, "docket", true, apiEnv, s.env); err != nil {
		return err
	}
	defer func() { s.st.Stop(); s.stopExtra() }()
	s.workers = []*Proc{s.st.Worker}
	s.api = newAPIJobs(s.st.APIURL)
	if skip, err := ocrSkipReason(ctx, s.api); err != nil || skip != "" {
		if skip != "" {
			sec.Para("**Skipped:** %s", skip)
		}
		return err
	}

	// The documents, generated and uploaded before anything is timed.
	fmt.Printf("   rendering and uploading the documents\n")
	load, err := scaleScannedDoc(dir, "load", sz.loadPages)
	if err != nil {
		return err
	}
	one, err := scaleScannedDoc(dir, "one", sz.tputPages)
	if err != nil {
		return err
	}
	two, err := scaleScannedDoc(dir, "two", sz.tputPages)
	if err != nil {
		return err
	}
	text, err := scaleTextDoc(sz.textPages)
	if err != nil {
		return err
	}
	for _, d := range []*scaleDoc{load, one, two, text} {
		if d.id, err = s.api.uploadDocument(ctx, d.pdf, "scale.pdf", "application/pdf"); err != nil {
			return err
		}
	}
	pool, err := scaleSingles(ctx, s.api, dir, 2*sz.idleJobs+2*sz.busyJobs+1)
	if err != nil {
		return err
	}
	next := func() *ocrPage { p := pool[0]; pool = pool[1:]; return p }
	// Warm up: the worker's language check and version, the page cache.
	if _, err := s.api.ocrJob(ctx, next()); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}

	// (a) One-page jobs idle, beside the long scanned document, idle again.
	var idle, busy singles
	for range sz.idleJobs {
		scaleSingle(ctx, s.api, srv, next(), &idle)
	}
	if idle.lat.N() == 0 {
		return fmt.Errorf("(a) no one-page job succeeded on the idle stack: %v", idle.lat.FirstError())
	}
	loadRun, err := s.busyDocument(ctx, load, sz.busyJobs, true, 2*idle.lat.P(0.5), next, &busy)
	if err != nil {
		return fmt.Errorf("(a) %w", err)
	}
	for range sz.idleJobs {
		scaleSingle(ctx, s.api, srv, next(), &idle)
	}

	// (b) One worker, raw tesseract at its parallelism, (c) the same
	// document from the cache, then two workers and raw at theirs.
	oneRun, err := s.document(ctx, one)
	if err != nil {
		return fmt.Errorf("(b) one worker: %w", err)
	}
	rawOne := scaleRaw(ctx, one, par)
	cached, err := s.document(ctx, one)
	if err != nil {
		return fmt.Errorf("(c) %w", err)
	}
	if err := s.startExtra(ctx, b.Env, srv); err != nil {
		return fmt.Errorf("(b) start a second worker: %w", err)
	}
	twoRun, err := s.document(ctx, two)
	if err != nil {
		return fmt.Errorf("(b) two workers: %w", err)
	}
	s.stopExtra()
	rawTwo := scaleRaw(ctx, two, 2*par)

	// (d) The text-layer PDF with one-page jobs beside it.
	var textBusy singles
	textRun, err := s.busyDocument(ctx, text, sz.busyJobs, false, 2*idle.lat.P(0.5), next, &textBusy)
	if err != nil {
		return fmt.Errorf("(d) %w", err)
	}

	scaleReport(ctx, b, srv, sec, sz, par, &idle, &busy, &textBusy, loadRun, oneRun, twoRun, cached, textRun, rawOne, rawTwo)
	return nil
}

// scaleSingles renders and uploads n one-page PNGs, each new to the cache.
func scaleSingles(ctx context.Context, api *apiJobs, dir string, n int) ([]*ocrPage, error) {
	out := make([]*ocrPage, n)
	for i := range out {
		marker := ocrMarkers[i%len(ocrMarkers)]
		lines := ocrLines(i+1, n, marker)
		png, err := testdocs.PNG(lines, ocrPX)
		if err != nil {
			return nil, err
		}
		p := &ocrPage{n: i + 1, marker: marker, words: ocrWords(strings.Join(lines, " ")), path: filepath.Join(dir, fmt.Sprintf("single-%02d.png", i+1))}
		if p.docID, err = api.uploadDocument(ctx, png, filepath.Base(p.path), "image/png"); err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// singles are one-page jobs' outcomes: submit to result, and from each
// job's history its ocr activity's wait for an OCR slot (scheduled to
// started) and its run (started to completed).
type singles struct {
	lat, wait, run Sample
	slowest        ocrDoc
}

// scaleSingle runs one one-page job and adds its times to into.
func scaleSingle(ctx context.Context, api *apiJobs, srv *Server, p *ocrPage, into *singles) {
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	d, err := api.ocrJob(rctx, p)
	if err != nil {
		into.lat.Fail(err)
		return
	}
	into.lat.Add(d.elapsed)
	if d.elapsed > into.slowest.elapsed {
		into.slowest = d
	}
	if wait, run, ok := ocrActivityTimes(ctx, srv, d.id); ok {
		into.wait.Add(wait)
		into.run.Add(run)
	}
}

// ocrActivityTimes reads from a job's history when its ocr activity was
// scheduled, started and completed.
func ocrActivityTimes(ctx context.Context, srv *Server, id string) (wait, run time.Duration, ok bool) {
	var scheduled, started time.Time
	var schedID int64 = -1
	iter := srv.client.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return 0, 0, false
		}
		switch {
		case ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "ocr":
			schedID, scheduled = ev.GetEventId(), ev.GetEventTime().AsTime()
		case ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId() == schedID:
			started = ev.GetEventTime().AsTime()
		case ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId() == schedID && !started.IsZero():
			return started.Sub(scheduled), ev.GetEventTime().AsTime().Sub(started), true
		}
	}
	return 0, 0, false
}

// docRun is one document job's outcome.
type docRun struct {
	id          string
	pages       int
	elapsed     time.Duration
	cpu         time.Duration // Docket's processes and the worker's tools
	tools       time.Duration // the worker's tools alone (pdftoppm, tesseract)
	tesseract   int           // recognitions the workers ran
	cached      int           // the result's cached_pages
	perWorker   map[string]int
	batches     map[string]int
	stepWorkers []string // the view's ocr step workers
	busyJobs    int      // one-page jobs that ran entirely beside it
	wrong       string   // the first page that did not read right
}

// document runs a document job over d alone and measures it.
func (s *scaleStack) document(ctx context.Context, d *scaleDoc) (docRun, error) {
	return s.busyDocument(ctx, d, 0, false, 0, nil, nil)
}

// busyDocument runs a document job over d and, while it runs, up to jobs
// one-page jobs one after the other, adding to busy the time of each
// submitted before the document ended. With afterPages the first waits
// until the document's OCR has pages done (its batches hold the OCR
// workers), else it is submitted at once, alongside; before each later one
// it pauses a share of pause.
func (s *scaleStack) busyDocument(ctx context.Context, d *scaleDoc, jobs int, afterPages bool, pause time.Duration, next func() *ocrPage, busy *singles) (docRun, error) {
	r := docRun{pages: len(d.pages)}
	before, childBefore, runsBefore := snapshotCPU(s.pids()...), s.childCPU(), s.tesseractRuns()
	t0 := time.Now()
	id, _, err := s.api.submit(ctx, fmt.Sprintf(`{"type":"document","input":{"document_id":%q,"steps":["ocr"]}}`, d.id))
	if err != nil {
		return r, err
	}
	r.id = id
	var done atomic.Bool
	var wg sync.WaitGroup
	if jobs > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if afterPages {
				_ = waitFor(ctx, requestTimeout, func() error {
					v, err := s.api.scaleView(ctx, id)
					if err == nil && v.ocrDone() == 0 && !terminal(v.Status) {
						err = fmt.Errorf("no page done yet")
					}
					return err
				})
			}
			for k := range jobs {
				// Back to back, each job would be submitted just after
				// the last freed the OCR slot for the document's next
				// batch, and wait for all of it: a pause spread over
				// about a batch's time makes them arrive as a user's
				// would, anywhere in a batch.
				if k > 0 || afterPages {
					sleepCtx(ctx, time.Duration(float64(pause)*math.Mod(float64(k+1)*0.618034, 1)))
				}
				if done.Load() || ctx.Err() != nil {
					return
				}
				scaleSingle(ctx, s.api, s.st.Server, next(), busy)
				r.busyJobs++
			}
		}()
	}
	res, err := s.api.waitDocument(ctx, id)
	r.elapsed = time.Since(t0)
	done.Store(true)
	wg.Wait()
	if err != nil {
		return r, err
	}
	used := snapshotCPU(s.pids()...).since(before)
	r.tools = s.childCPU() - childBefore
	r.cpu = r.tools
	for _, c := range used {
		r.cpu += c
	}
	// The one-page jobs beside it ran one recognition each.
	r.tesseract = s.tesseractRuns() - runsBefore - r.busyJobs
	r.cached = res.CachedPages
	if res.Pages != len(d.pages) || len(res.PageTexts) != len(d.pages) {
		return r, fmt.Errorf("job %s: %d pages, %d page texts, want %d", id, res.Pages, len(res.PageTexts), len(d.pages))
	}
	r.wrong = s.checkPages(ctx, id, d, res.ocrResult)
	if v, err := s.api.scaleView(ctx, id); err == nil {
		for _, st := range v.Steps {
			if st.Name == "ocr" {
				r.stepWorkers = st.Workers
			}
		}
	}
	r.perWorker, r.batches = batchesByWorker(ctx, s.st.Server, id)
	return r, nil
}

// checkPages checks every page's text for its marker (a sample of 50
// pages, first and last among them, of a longer document); "" when all
// read right.
func (s *scaleStack) checkPages(ctx context.Context, id string, d *scaleDoc, res ocrResult) string {
	step := max(1, len(res.PageTexts)/50)
	for i := 0; i < len(res.PageTexts); i += step {
		if i+step >= len(res.PageTexts) {
			i = len(res.PageTexts) - 1
		}
		pt := res.PageTexts[i]
		text := pt.Text
		if text == "" && pt.URL != "" {
			var err error
			if text, err = s.api.getText(ctx, pt.URL); err != nil {
				return err.Error()
			}
		}
		if pt.Page < 1 || pt.Page > len(d.pages) {
			return fmt.Sprintf("job %s: page %d of %d", id, pt.Page, len(d.pages))
		}
		if _, err := checkPageText(d.pages[pt.Page-1], text); err != nil {
			return fmt.Sprintf("job %s: %v", id, err)
		}
	}
	return ""
}

// batchesByWorker reads from a document job's history how many pages, in
// how many ocr_pages activities, each worker read (by its identity).
func batchesByWorker(ctx context.Context, srv *Server, id string) (pages, batches map[string]int) {
	pages, batches = map[string]int{}, map[string]int{}
	scheduled := map[int64]int{} // event id -> pages of the batch
	iter := srv.client.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return pages, batches
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == "ocr_pages" {
			var in struct {
				Pages []int `json:"pages"`
			}
			if ps := a.GetInput().GetPayloads(); len(ps) > 0 && json.Unmarshal(ps[0].GetData(), &in) == nil {
				scheduled[ev.GetEventId()] = len(in.Pages)
			}
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			if n, ok := scheduled[a.GetScheduledEventId()]; ok {
				pages[a.GetIdentity()] += n
				batches[a.GetIdentity()]++
			}
		}
	}
	return pages, batches
}

// startExtra starts a second worker on the stack's server and waits until
// it polls the OCR queue.
func (s *scaleStack) startExtra(ctx context.Context, e *Env, srv *Server) error {
	env := append(e.stackEnv(srv, "docket"), s.env...)
	p, err := startProc("worker-s14-2", filepath.Join(e.Dir, "worker-s14-2.log"), env, filepath.Join(e.Bin, "worker"))
	if err != nil {
		return err
	}
	s.extra = p
	s.workers = append(s.workers, p)
	prefix := fmt.Sprintf("worker-%d@", p.PID())
	return waitFor(ctx, 30*time.Second, func() error {
		if p.Exited() {
			return fmt.Errorf("worker exited:\n%s", p.Tail(20))
		}
		resp, err := srv.client.DescribeTaskQueue(ctx, "docket-ocr", enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		if err != nil {
			return err
		}
		for _, poller := range resp.GetPollers() {
			if strings.HasPrefix(poller.GetIdentity(), prefix) {
				return nil
			}
		}
		return fmt.Errorf("the second worker does not poll the OCR queue yet")
	})
}

func (s *scaleStack) stopExtra() {
	if s.extra == nil {
		return
	}
	s.extra.Stop(10 * time.Second)
	s.extra = nil
	s.workers = s.workers[:1]
}

// rawRun is raw tools over a PDF's pages.
type rawRun struct {
	pages   int
	errs    int
	first   error
	elapsed time.Duration
	cpu     time.Duration
}

// scaleRaw reads every page of d as a script would, conc pages at a time:
// pdftoppm rasterises the page in gray at 300 DPI (as the worker does) and
// tesseract reads it, with OMP_THREAD_LIMIT=1.
func scaleRaw(ctx context.Context, d *scaleDoc, conc int) rawRun {
	var mu sync.Mutex
	var r rawRun
	var next atomic.Int64
	var wg sync.WaitGroup
	dir := filepath.Dir(d.path)
	start := time.Now()
	for range min(conc, len(d.pages)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(d.pages) || ctx.Err() != nil {
					return
				}
				cpu, err := rawPDFPage(ctx, d, i+1, filepath.Join(dir, fmt.Sprintf("raw-%d", i+1)))
				mu.Lock()
				r.cpu += cpu
				if err != nil {
					r.errs++
					if r.first == nil {
						r.first = err
					}
				} else {
					r.pages++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	return r
}

func rawPDFPage(ctx context.Context, d *scaleDoc, n int, base string) (time.Duration, error) {
	defer os.Remove(base + ".pgm")
	var cpu time.Duration
	run := func(name string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if cmd.ProcessState != nil {
			cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		if err != nil {
			return nil, fmt.Errorf("%s page %d: %w: %s", name, n, err, strings.TrimSpace(stderr.String()))
		}
		return out, nil
	}
	if _, err := run("pdftoppm", "-gray", "-r", "300", "-f", fmt.Sprint(n), "-l", fmt.Sprint(n), "-singlefile", d.path, base); err != nil {
		return cpu, err
	}
	out, err := run("tesseract", base+".pgm", "stdout", "-l", "eng", "--dpi", "300")
	if err != nil {
		return cpu, err
	}
	_, err = checkPageText(d.pages[n-1], string(out))
	return cpu, err
}

// scaleView is the part of GET /jobs/{id} the scenario reads.
type scaleView struct {
	Status string `json:"status"`
	Steps  []struct {
		Name     string   `json:"name"`
		Workers  []string `json:"workers"`
		Progress *struct {
			Done  int64 `json:"done"`
			Total int64 `json:"total"`
		} `json:"progress"`
	} `json:"steps"`
}

func (v scaleView) ocrDone() int64 {
	for _, st := range v.Steps {
		if st.Name == "ocr" && st.Progress != nil {
			return st.Progress.Done
		}
	}
	return 0
}

func terminal(status string) bool {
	return status != "QUEUED" && status != "RUNNING" && status != ""
}

func (a *apiJobs) getJSON(ctx context.Context, path string, v any) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	a.authorize(req)
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if v != nil && resp.StatusCode == http.StatusOK {
		err = json.Unmarshal(b, v)
	}
	return resp.StatusCode, b, err
}

// scaleView is GET /jobs/{id}, as scenario 14 reads it.
func (a *apiJobs) scaleView(ctx context.Context, id string) (scaleView, error) {
	var v scaleView
	status, b, err := a.getJSON(ctx, "/jobs/"+id, &v)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("GET /jobs/%s: %d: %s", id, status, b)
	}
	return v, err
}

// scaleResult is ocrResult with the cache's count.
type scaleResult struct {
	ocrResult
	CachedPages int `json:"cached_pages"`
}

// waitDocument waits for a document job's result, long poll after long
// poll.
func (a *apiJobs) waitDocument(ctx context.Context, id string) (scaleResult, error) {
	var out struct {
		Result scaleResult `json:"result"`
	}
	for ctx.Err() == nil {
		status, b, err := a.getJSON(ctx, "/jobs/"+id+"/results?wait=30s", &out)
		if err != nil {
			return out.Result, fmt.Errorf("job %s: %w", id, err)
		}
		switch {
		case status == http.StatusOK:
			return out.Result, nil
		case status != http.StatusConflict || strings.Contains(string(b), "ended"):
			return out.Result, fmt.Errorf("job %s: GET results: %d: %s", id, status, b)
		}
	}
	return out.Result, ctx.Err()
}

// getText is GET of a page's text link (/jobs/{id}/pages/{n}): plain text.
func (a *apiJobs) getText(ctx context.Context, path string) (string, error) {
	status, b, err := a.getJSON(ctx, path, nil)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("GET %s: %d: %s", path, status, b)
	}
	return string(b), err
}

func scaleReport(ctx context.Context, b *Bench, srv *Server, sec *Section, sz scaleSizes, par int, idle, busy, textBusy *singles,
	load, one, two, cached, text docRun, rawOne, rawTwo rawRun) {
	rate := func(pages int, d time.Duration) float64 {
		if d <= 0 {
			return 0
		}
		return float64(pages) / d.Seconds()
	}
	perPage := func(d time.Duration, pages int) string {
		if pages == 0 {
			return "-"
		}
		return ms(d / time.Duration(pages))
	}
	sec.Para("One stack of its own (a dev server on a SQLite file, tuned as `make run`'s; one API; workers with Docket's defaults: "+
		"`DOCKET_OCR_CONCURRENCY=1`, page parallelism %d (the core count), batches of %d pages; `DOCKET_MAX_PAGES=%d` for the text-layer PDF; "+
		"a `tesseract` on the workers' PATH that counts each recognition, then execs the real one). "+
		"Scanned PDFs are generated with `tools/testdocs` (Go Regular at %d px per em at 300 DPI, five lines a page, %d distinct page images in turn, "+
		"each with its marker word; every document carries its own name in its pages, so each is new to the OCR cache). "+
		"Every page's text is checked for its marker (of the text-layer PDF, 50 pages spread over it).",
		par, par, sz.textPages, ocrPX, scaleImages)
	if sz.loadPages < 500 || sz.tputPages < 200 {
		sec.Para("Scaled down from the issue's 500 and 200 scanned pages to %d and %d: on this machine tesseract reads about one page per second per core, "+
			"so the issue's sizes would take over half an hour with the baselines; the loaded document still runs many times longer than a one-page job.",
			sz.loadPages, sz.tputPages)
	}

	// (a)
	lt := &Table{Header: []string{"one-page job", "runs", "errors", "p50 ms", "max ms", "vs idle p50", "ocr wait for a slot p50 ms", "ocr run p50 ms"}}
	row := func(name string, x *singles) {
		lt.Add(name, fmt.Sprint(x.lat.N()), fmt.Sprint(x.lat.Errors()), ms(x.lat.P(0.5)), ms(x.lat.P(1)),
			ratio(float64(x.lat.P(0.5)), float64(idle.lat.P(0.5))), ms(x.wait.P(0.5)), ms(x.run.P(0.5)))
	}
	row("idle stack", idle)
	row(fmt.Sprintf("beside the %d-page scanned document", sz.loadPages), busy)
	row(fmt.Sprintf("beside the %d-page text-layer PDF", sz.textPages), textBusy)
	sec.Para("**(a) A one-page job beside a long document.** One-page scanned PNGs (each new to the cache), one job at a time, submit to result "+
		"(`POST /jobs`, `GET /jobs/{id}/results?wait=30s`): %d on the idle stack before the document and %d after it; then beside the document, "+
		"once its OCR has pages done, every job submitted before it ended, each after a pause of up to twice the idle p50 (spread by the golden ratio), "+
		"so that they arrive anywhere in a batch rather than just as the last freed the OCR slot. The %d-page document took %s (%.2f pages/s) with %d one-page jobs beside it.",
		sz.idleJobs, sz.idleJobs, sz.loadPages, load.elapsed.Round(100*time.Millisecond), rate(load.pages, load.elapsed), load.busyJobs)
	sec.Table(lt)
	ok := busy.lat.N() > 0 && busy.lat.Errors() == 0 && busy.lat.P(0.5) <= 2*idle.lat.P(0.5)
	sec.Para("*ocr wait* is the one-page job's ocr activity from scheduled to started (in its history): with `DOCKET_OCR_CONCURRENCY=1` it waits for the batch "+
		"that holds the worker's one OCR slot to end (batches are one priority level below the job, so it is the next task taken); *ocr run* is the activity itself. "+
		"Target: %s", b.target("14", fmt.Sprintf("one-page job p50 beside a %d-page scanned document ≤ 2 × idle", sz.loadPages),
		fmt.Sprintf("%s vs %s ms (%s×)", ms(busy.lat.P(0.5)), ms(idle.lat.P(0.5)), ratio(float64(busy.lat.P(0.5)), float64(idle.lat.P(0.5)))), ok))
	for _, c := range []struct {
		name string
		x    *singles
	}{{"beside the scanned document", busy}, {"beside the text-layer PDF", textBusy}} {
		name, x := c.name, c.x
		if x.slowest.id != "" {
			sec.Para("The slowest one-page job %s: %s", name, timeline(ctx, srv.client, x.slowest.id, x.slowest.start, x.slowest.start.Add(x.slowest.elapsed)))
		}
		if x == busy && x.slowest.id != "" {
			sec.Para("While its ocr activity waited for the slot, %s", batchesDuring(ctx, srv, load.id, x.slowest.id))
		}
		if err := x.lat.FirstError(); err != nil {
			sec.Para("%d errors %s; the first: `%v`", x.lat.Errors(), name, err)
		}
	}

	// (b), (c)
	dist := func(r docRun) string {
		ids := make([]string, 0, len(r.perWorker))
		for id := range r.perWorker {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var parts []string
		for _, id := range ids {
			parts = append(parts, fmt.Sprintf("%s: %d pages in %d batches", strings.SplitN(id, "@", 2)[0], r.perWorker[id], r.batches[id]))
		}
		if len(parts) == 0 {
			return "no batch (read by the one ocr activity)"
		}
		return strings.Join(parts, "; ")
	}
	tt := &Table{Header: []string{"path", "parallelism", "pages", "s", "pages/s", "vs raw", "tesseract runs", "cached pages", "CPU ms/page (tools)", "pages by worker", "view's step workers"}}
	tt.Add("Docket, one worker", fmt.Sprint(par), fmt.Sprint(one.pages), fmt.Sprintf("%.1f", one.elapsed.Seconds()), fmt.Sprintf("%.2f", rate(one.pages, one.elapsed)),
		ratio(rate(one.pages, one.elapsed), rate(rawOne.pages, rawOne.elapsed)), fmt.Sprint(one.tesseract), fmt.Sprint(one.cached),
		fmt.Sprintf("%s (%s)", perPage(one.cpu, one.pages), perPage(one.tools, one.pages)), dist(one), fmt.Sprint(len(one.stepWorkers)))
	tt.Add("raw pdftoppm + tesseract", fmt.Sprint(par), fmt.Sprint(rawOne.pages), fmt.Sprintf("%.1f", rawOne.elapsed.Seconds()), fmt.Sprintf("%.2f", rate(rawOne.pages, rawOne.elapsed)),
		"1.00", fmt.Sprint(rawOne.pages), "-", fmt.Sprintf("%s (%s)", perPage(rawOne.cpu, rawOne.pages), perPage(rawOne.cpu, rawOne.pages)), "-", "-")
	tt.Add("Docket, two workers", fmt.Sprint(2*par), fmt.Sprint(two.pages), fmt.Sprintf("%.1f", two.elapsed.Seconds()), fmt.Sprintf("%.2f", rate(two.pages, two.elapsed)),
		ratio(rate(two.pages, two.elapsed), rate(rawTwo.pages, rawTwo.elapsed)), fmt.Sprint(two.tesseract), fmt.Sprint(two.cached),
		fmt.Sprintf("%s (%s)", perPage(two.cpu, two.pages), perPage(two.tools, two.pages)), dist(two), fmt.Sprint(len(two.stepWorkers)))
	tt.Add("raw pdftoppm + tesseract", fmt.Sprint(2*par), fmt.Sprint(rawTwo.pages), fmt.Sprintf("%.1f", rawTwo.elapsed.Seconds()), fmt.Sprintf("%.2f", rate(rawTwo.pages, rawTwo.elapsed)),
		"1.00", fmt.Sprint(rawTwo.pages), "-", fmt.Sprintf("%s (%s)", perPage(rawTwo.cpu, rawTwo.pages), perPage(rawTwo.cpu, rawTwo.pages)), "-", "-")
	tt.Add("Docket, one worker, again (cache)", fmt.Sprint(par), fmt.Sprint(cached.pages), fmt.Sprintf("%.1f", cached.elapsed.Seconds()), fmt.Sprintf("%.2f", rate(cached.pages, cached.elapsed)),
		ratio(rate(cached.pages, cached.elapsed), rate(rawOne.pages, rawOne.elapsed)), fmt.Sprint(cached.tesseract), fmt.Sprint(cached.cached),
		fmt.Sprintf("%s (%s)", perPage(cached.cpu, cached.pages), perPage(cached.tools, cached.pages)), dist(cached), fmt.Sprint(len(cached.stepWorkers)))
	sec.Para("**(b) Pages per second of a %d-page scanned PDF** (one document job, submit to result) with one OCR worker and with two on this stack "+
		"(the second a separate `bin/worker` on the same server and blob store), against a script reading the same PDF page by page "+
		"(`pdftoppm -gray -r 300 -f N -l N -singlefile`, then `tesseract PAGE.pgm stdout -l eng --dpi 300`) at the same total parallelism "+
		"(each worker reads %d pages at once). Two workers are a different document (the same pages under another name), so that the cache does not serve it. "+
		"*CPU ms/page* is every Docket process's CPU (workers, their tools, API, server) per page, the tools' share in brackets; for the script, its tools'. "+
		"*pages by worker* is from the document's history (each `ocr_pages` activity's pages and the worker that completed it); "+
		"*view's step workers* counts the workers the job view's `ocr` step names. "+
		"All workers share this machine's %d cores, so a second worker cannot add cores here: on one machine the two-worker row measures the cost of sharing a document out, not scaling. "+
		"**(c)** is the one-worker document submitted again: every page from the OCR cache.", sz.tputPages, par, par)
	sec.Table(tt)
	for _, r := range []docRun{load, one, two, cached, text} {
		if r.wrong != "" {
			sec.Para("**Wrong text:** %s", r.wrong)
		}
	}
	for _, r := range []rawRun{rawOne, rawTwo} {
		if r.first != nil {
			sec.Para("%d raw errors; the first: `%v`", r.errs, r.first)
		}
	}
	sec.Para("Targets: %s; %s; %s",
		b.target("14", "two workers both take part in one document", dist(two), len(two.perWorker) == 2 && len(two.stepWorkers) == 2),
		b.target("14", "a rerun from the cache runs tesseract 0 times", fmt.Sprintf("%d runs, %d of %d pages cached, %s", cached.tesseract, cached.cached, cached.pages, cached.elapsed.Round(10*time.Millisecond)),
			cached.tesseract == 0 && cached.cached == cached.pages),
		b.target("14", "one-worker pages/s ≥ 0.9 × raw at the same parallelism", fmt.Sprintf("%.2f vs %.2f", rate(one.pages, one.elapsed), rate(rawOne.pages, rawOne.elapsed)),
			rate(one.pages, one.elapsed) >= 0.9*rate(rawOne.pages, rawOne.elapsed)))

	// (d)
	sec.Para("**(d) A %d-page text-layer PDF** (Helvetica text, no image): %s submit to result, **%.0f pages/s** through the text layer; tesseract ran %d times for it; "+
		"%s. The one-page jobs beside it are the last row of (a)'s table.",
		sz.textPages, text.elapsed.Round(10*time.Millisecond), rate(text.pages, text.elapsed), text.tesseract, dist(text))
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// batchesDuring says how many of document job doc's batches started while
// one-page job one's ocr activity waited to start: with priorities working,
// none (the one the slot was busy with had started before).
func batchesDuring(ctx context.Context, srv *Server, doc, one string) string {
	var from, to time.Time
	var schedID int64 = -1
	iter := srv.client.GetWorkflowHistory(ctx, one, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return "its history is unreadable: " + err.Error()
		}
		if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "ocr" {
			schedID, from = ev.GetEventId(), ev.GetEventTime().AsTime()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.GetScheduledEventId() == schedID {
			to = ev.GetEventTime().AsTime()
		}
	}
	started, n := 0, 0
	iter = srv.client.GetWorkflowHistory(ctx, doc, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	batches := map[int64]bool{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return "the document's history is unreadable: " + err.Error()
		}
		if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "ocr_pages" {
			batches[ev.GetEventId()] = true
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && batches[a.GetScheduledEventId()] {
			n++
			if t := ev.GetEventTime().AsTime(); t.After(from) && t.Before(to) {
				started++
			}
		}
	}
	return fmt.Sprintf("%d of the document's %d batches started (%s ms of waiting).", started, n, ms(to.Sub(from)))
}
