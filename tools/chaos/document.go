package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/docket-dev/docket/activities"
	"github.com/docket-dev/docket/internal/crypt"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
	"github.com/docket-dev/docket/tools/testdocs"
)

// pageWords make each page's marker: words tesseract reads reliably
// (digits next to capitals it does not).
var pageWords = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
	"india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"}

// chaosDocument is an image-only PDF of n scanned pages rendered at px
// pixels per em, and the marker each page's text must contain.
func chaosDocument(runID string, n int, px float64) ([]byte, []string, error) {
	pages := make([]testdocs.Page, n)
	markers := make([]string, n)
	for i := range pages {
		markers[i] = "marker " + pageWords[i%len(pageWords)]
		img, err := testdocs.Render([]string{
			fmt.Sprintf("Chaos page %d of %d, %s", i+1, n, markers[i]),
			"The quick brown fox jumps over the lazy dog.",
			"Pack my box with five dozen liquor jugs.",
			"Sphinx of black quartz, judge my vow.",
			"How vexingly quick daft zebras jump.",
			"Run " + strings.ToLower(runID) + " keeps this document unique.",
		}, px)
		if err != nil {
			return nil, nil, err
		}
		pages[i] = testdocs.Page{Image: img}
	}
	return testdocs.PDF(pages), markers, nil
}

// TesseractRun is one recognition a worker's tesseract made.
type TesseractRun struct {
	Worker string // the component that ran it (worker-1)
	Ended  time.Time
	Text   string // what it printed
}

// tesseractCounter is a topology that can tell each tesseract run of its
// workers (the short run's wraps tesseract on their PATH).
type tesseractCounter interface {
	TesseractRuns() ([]TesseractRun, error)
}

// keyRinged is a topology whose processes encrypt payloads with a key ring:
// the document case needs it to read the OCR activities' heartbeats.
type keyRinged interface {
	EncryptionKeysFile() string
}

// payloads is the data converter the topology's workers write heartbeats
// with: its key ring's, or Temporal's default without one.
func (r *runner) payloads(ctx context.Context) (converter.DataConverter, error) {
	kr, ok := r.cfg.Topology.(keyRinged)
	if !ok || kr.EncryptionKeysFile() == "" {
		return converter.GetDefaultDataConverter(), nil
	}
	ring, err := crypt.LoadRing(ctx, kr.EncryptionKeysFile(), "")
	if err != nil {
		return nil, fmt.Errorf("load the key ring: %w", err)
	}
	return crypt.DataConverter(ring), nil
}

// ocrActivity is a pending OCR activity of the document job as Temporal
// describes it, with its last heartbeat decoded.
type ocrActivity struct {
	id, kind, identity string
	attempt            int32
	started            bool
	beat               activities.OCRProgress
	hasBeat            bool
}

// pendingOCR lists the document job's pending ocr and ocr_pages activities.
func (r *runner) pendingOCR(ctx context.Context, dc converter.DataConverter, id string) ([]ocrActivity, error) {
	desc, err := r.cfg.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return nil, err
	}
	var out []ocrActivity
	for _, pa := range desc.GetPendingActivities() {
		kind := pa.GetActivityType().GetName()
		if kind != steps.OCR.Name && kind != job.StepOCRPages {
			continue
		}
		a := ocrActivity{id: pa.GetActivityId(), kind: kind, identity: pa.GetLastWorkerIdentity(), attempt: pa.GetAttempt(),
			started: pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED}
		if d := pa.GetHeartbeatDetails(); d != nil && len(d.GetPayloads()) > 0 {
			if err := dc.FromPayloads(d, &a.beat); err != nil {
				return nil, fmt.Errorf("decode the heartbeat of %s: %w", a.id, err)
			}
			a.hasBeat = true
		}
		out = append(out, a)
	}
	return out, nil
}

// documentResumed is scenario 1's document case: a multi-page scanned PDF
// is uploaded and a document job with the ocr step starts; its pages are
// shared out in batches (ocr_pages activities) to both workers. Once a
// batch has recorded some of its pages in its heartbeat (but not all), the
// worker running it is killed with SIGKILL and stays down. The job must
// complete on the other worker, with every page's text right; the retried
// batch must be handed the pages recorded before the kill, and (where the
// topology counts tesseract's runs) none of them may be read again; the
// job's view must name both workers in the ocr step's workers.
func (r *runner) documentResumed(ctx context.Context, res Result) Result {
	s := r.cfg.Scale
	topo := r.cfg.Topology
	problem := func(format string, args ...any) { res.Problems = append(res.Problems, fmt.Sprintf(format, args...)) }
	problemsBefore := len(res.Problems)
	// The sum case's victim is still down: both workers must run.
	if err := r.ensureAllUp(ctx); err != nil {
		problem("document case: restart the topology: %v", err)
		return res
	}
	dc, err := r.payloads(ctx)
	if err != nil {
		problem("document case: %v", err)
		return res
	}
	since := time.Now()
	pdf, markers, err := chaosDocument(r.cfg.RunID, s.DocPages, s.DocPx)
	if err != nil {
		problem("document case: render the document: %v", err)
		return res
	}
	docID, err := r.api.upload(ctx, pdf, "chaos-"+r.cfg.RunID+".pdf")
	if err != nil {
		problem("document case: upload: %v", err)
		return res
	}
	body := fmt.Appendf(nil, `{"type":"document","input":{"document_id":%q,"steps":[%q]}}`, docID, steps.OCR.Name)
	sub := r.api.submit(ctx, r.key("s1-doc", 0), body, 0, submitPolicy{MaxAttempts: 10, Deadline: time.Minute})
	subs := []*submission{sub}
	if !sub.Accepted {
		return res.add(r.finish(ctx, Result{}, subs, since))
	}
	id := sub.ID
	r.logf("document job %s: %d scanned pages (%d KiB) uploaded as %s", shortID(id), s.DocPages, len(pdf)>>10, shortID(docID))

	prefixes := map[string]string{}
	for _, w := range topo.Workers() {
		pid, err := topo.Pid(ctx, w)
		if err != nil {
			problem("pid of %s: %v", w, err)
			return res.add(r.finish(ctx, Result{}, subs, since))
		}
		prefixes[fmt.Sprintf("worker-%d@", pid)] = w
	}
	workerOf := func(identity string) string {
		for p, w := range prefixes {
			if strings.HasPrefix(identity, p) {
				return w
			}
		}
		return ""
	}

	// Wait until an OCR activity runs with some pages recorded in its
	// heartbeat and some left. A long document's is a batch (ocr_pages);
	// the first ocr activity, which inspects the document, records no
	// page of a scanned one.
	var target ocrActivity
	victim := ""
	deadline := time.Now().Add(2 * time.Minute)
	for victim == "" {
		if v, _, err := r.api.get(ctx, id, 0); err == nil && v.Status.Terminal() {
			problem("document job %s ended %s before it could be caught mid-OCR", shortID(id), v.Status)
			return res.add(r.finish(ctx, Result{}, subs, since))
		}
		acts, err := r.pendingOCR(ctx, dc, id)
		if err != nil {
			r.logf("document job %s: describe: %v", shortID(id), err)
		}
		for _, a := range acts {
			if w := workerOf(a.identity); w != "" && a.started && a.attempt == 1 && len(a.beat.Pages) > 0 && a.beat.Done < a.beat.Total {
				target, victim = a, w
				break
			}
		}
		if victim != "" {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			problem("document job %s: no OCR activity was seen running with pages recorded and pages left", shortID(id))
			return res.add(r.finish(ctx, Result{}, subs, since))
		}
		time.Sleep(100 * time.Millisecond)
	}
	survivor := ""
	for _, w := range topo.Workers() {
		if w != victim {
			survivor = w
			break
		}
	}
	r.logf("document job %s: %s (%s) has %d of its %d pages recorded on %s; killing it with SIGKILL",
		shortID(id), target.id, target.kind, len(target.beat.Pages), target.beat.Total, victim)
	killedAt := time.Now()
	if err := topo.Kill(ctx, victim); err != nil {
		problem("kill %s: %v", victim, err)
		return res.add(r.finish(ctx, Result{}, subs, since))
	}

	// Watch the batch's retry: the heartbeat Temporal keeps for it once
	// the retry has started on the survivor is what it was handed (the
	// dead attempt's last one, then the retry's own, which begins with
	// the pages it resumed). The pages recorded before the kill are those
	// of the last heartbeat the dead attempt got through, read once the
	// kill is done (one in flight at the kill may still have landed).
	var (
		mu       sync.Mutex
		recorded []int // pages of the dead attempt's last heartbeat
		handed   []int // pages of the retry's first heartbeat seen
		seen     bool
		retryBy  string
	)
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for watchCtx.Err() == nil {
			if acts, err := r.pendingOCR(watchCtx, dc, id); err == nil {
				for _, a := range acts {
					if a.id != target.id {
						continue
					}
					mu.Lock()
					if a.attempt == 1 && a.hasBeat {
						recorded = pagesOf(a.beat)
					}
					if !seen && a.attempt >= 2 && a.started && a.hasBeat {
						seen, handed, retryBy = true, pagesOf(a.beat), workerOf(a.identity)
					}
					mu.Unlock()
				}
			}
			select {
			case <-watchCtx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	// The victim stays down until the job has ended: it can only complete
	// on the survivor. The job is counted with the scenario's sums.
	res = res.add(r.finish(ctx, Result{}, subs, since))
	stopWatch()
	<-watchDone
	if recorded == nil {
		recorded = pagesOf(target.beat)
	}

	v, _, err := r.api.get(ctx, id, 0)
	st := stepNamed(v, steps.OCR.Name)
	if err != nil || v.Status != job.StatusSucceeded || st == nil {
		problem("document job %s ended %s (%v)", shortID(id), v.Status, err)
		return res
	}
	// The step's workers: both took part.
	var took []string
	for _, w := range st.Workers {
		took = append(took, workerOf(w))
	}
	if target.kind == job.StepOCRPages && (!slices.Contains(took, victim) || !slices.Contains(took, survivor)) {
		problem("document job %s: the ocr step's workers are %q, not both %s and %s", shortID(id), st.Workers, victim, survivor)
	}
	if target.kind != job.StepOCRPages {
		problem("document job %s: the document was read by one ocr activity, not shared out in batches (DOCKET_OCR_BATCH_PAGES)", shortID(id))
	}
	// The retried activity's last attempt, from the history.
	attempt, by, cause := r.activityStarted(ctx, id, target.id)
	if workerOf(by) != survivor || attempt < 2 {
		problem("document job %s: %s completed in attempt %d on %q, not in a retry on %s", shortID(id), target.id, attempt, by, survivor)
	}
	handover := "the retry's heartbeat was not seen while it ran"
	if seen {
		handover = fmt.Sprintf("the retry on %s was handed pages %v", retryBy, handed)
		if missing := without(recorded, handed); len(missing) > 0 {
			problem("document job %s: the retry of %s was not handed pages %v recorded before the kill", shortID(id), target.id, missing)
		}
	}
	reads := r.countReads(since, markers, recorded, victim, &res)
	pagesOK := r.checkPages(ctx, id, markers)
	res.Notes = append(res.Notes, fmt.Sprintf("document job %s: %d-page scanned PDF; %s was killed %s after the start while %s had recorded pages %v of its %d; %s; %s on %s, %s; workers of the ocr step: %s; %s; pages %s",
		shortID(id), s.DocPages, victim, killedAt.Sub(since).Round(100*time.Millisecond), target.id, recorded, target.beat.Total,
		handover, target.id, survivor, cause, strings.Join(took, ", "), reads, pagesOK))
	if pagesOK != "correct" {
		problem("document job %s: pages %s", shortID(id), pagesOK)
	}
	if len(res.Problems) == problemsBefore {
		res.Notes = append(res.Notes, fmt.Sprintf("the document job's OCR resumed on %s from the pages its batch recorded before the kill (%d of %d)",
			survivor, len(recorded), target.beat.Total))
	}
	return res
}

// countReads counts, from the topology's tesseract runs since the job's
// start, each page's recognitions (a run's page is the marker it read) and
// checks that every page recorded before the kill was read exactly once,
// by the victim. It says what it found, or why it could not count.
func (r *runner) countReads(since time.Time, markers []string, recorded []int, victim string, res *Result) string {
	tc, ok := r.cfg.Topology.(tesseractCounter)
	if !ok {
		return "tesseract runs not counted (the topology cannot)"
	}
	runs, err := tc.TesseractRuns()
	if err != nil {
		res.Problems = append(res.Problems, "count tesseract runs: "+err.Error())
		return "tesseract runs not counted"
	}
	by := make([][]string, len(markers)) // workers that read each page
	unknown := 0
	for _, run := range runs {
		if run.Ended.Before(since) {
			continue
		}
		text := strings.ToLower(run.Text)
		page := slices.IndexFunc(markers, func(m string) bool { return strings.Contains(text, m) })
		if page < 0 {
			unknown++
			continue
		}
		by[page] = append(by[page], run.Worker)
	}
	total, twice := 0, []string(nil)
	for i, ws := range by {
		total += len(ws)
		if len(ws) > 1 {
			twice = append(twice, fmt.Sprintf("%d (%s)", i+1, strings.Join(ws, ", ")))
		}
		if len(ws) == 0 {
			res.Problems = append(res.Problems, fmt.Sprintf("tesseract never read page %d (or misread its marker)", i+1))
		}
	}
	for _, p := range recorded {
		if p < 1 || p > len(by) {
			continue
		}
		if ws := by[p-1]; len(ws) != 1 || ws[0] != victim {
			res.Problems = append(res.Problems, fmt.Sprintf("page %d was recorded before the kill yet read by tesseract on %v", p, ws))
		}
	}
	again := "none"
	if len(twice) > 0 {
		again = joinLimited(twice, 4)
	}
	return fmt.Sprintf("tesseract read %d pages in %d runs (%d runs without a marker); pages read more than once (in flight at the kill): %s",
		len(markers), total, unknown, again)
}

// activityStarted reads from the job's history the last attempt of the
// activity with id activityID (Temporal keeps only the last attempt's
// start): its number, the worker that ran it and why the one before ended.
func (r *runner) activityStarted(ctx context.Context, id, activityID string) (attempt int32, identity, cause string) {
	iter := r.cfg.Temporal.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var scheduled int64 = -1
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return 0, "", "history unreadable: " + err.Error()
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityId() == activityID {
			scheduled = ev.GetEventId()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.GetScheduledEventId() == scheduled {
			f := a.GetLastFailure()
			cause = fmt.Sprintf("attempt %d after %q", a.GetAttempt(), f.GetMessage())
			if t := f.GetTimeoutFailureInfo(); t != nil {
				cause = fmt.Sprintf("attempt %d after a %s timeout", a.GetAttempt(), strings.ToLower(t.GetTimeoutType().String()))
			}
			return a.GetAttempt(), a.GetIdentity(), cause
		}
	}
	return 0, "", "no ActivityTaskStarted for " + activityID
}

func pagesOf(p activities.OCRProgress) []int {
	pages := []int{}
	for _, ref := range p.Pages {
		pages = append(pages, ref.Page)
	}
	return pages
}

// without returns the elements of xs not in ys.
func without(xs, ys []int) []int {
	var out []int
	for _, x := range xs {
		if !slices.Contains(ys, x) {
			out = append(out, x)
		}
	}
	return out
}

func stepNamed(v job.View, name string) *job.Step {
	for i := range v.Steps {
		if v.Steps[i].Name == name {
			return &v.Steps[i]
		}
	}
	return nil
}

// checkPages reads a document job's result and says whether it has every
// page, each with its marker.
func (r *runner) checkPages(ctx context.Context, id string, markers []string) string {
	out, problem := readResult[job.DocumentResult](ctx, r, id)
	if problem != "" {
		return problem
	}
	if out.Result.Pages != len(markers) || len(out.Result.PageTexts) != len(markers) {
		return fmt.Sprintf("WRONG: %d pages and %d page texts, want %d", out.Result.Pages, len(out.Result.PageTexts), len(markers))
	}
	var wrong []string
	for i, pt := range out.Result.PageTexts {
		if pt.Page != i+1 || !strings.Contains(strings.ToLower(pt.Text), markers[i]) {
			wrong = append(wrong, fmt.Sprintf("page %d (%s): %.60q", pt.Page, pt.Method, pt.Text))
		}
	}
	if len(wrong) > 0 {
		return fmt.Sprintf("WRONG: %d of %d pages lack their marker: %s", len(wrong), len(markers), joinLimited(wrong, 3))
	}
	return "correct"
}

// upload POSTs a document's bytes to POST /documents, moving to the next
// replica after a failure a retry can fix, and returns its id.
func (c *apiClient) upload(ctx context.Context, body []byte, filename string) (string, error) {
	var last string
	for n := 0; n < 10; n++ {
		replica := n % len(c.urls)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.urls[replica]+"/documents?filename="+url.QueryEscape(filename), bytes.NewReader(body))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/pdf")
		resp, err := c.http.Do(req)
		if err == nil {
			raw, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			switch {
			case rerr != nil:
				last = rerr.Error()
			case resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK:
				var d struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(raw, &d); err != nil || d.ID == "" {
					return "", fmt.Errorf("unreadable %d reply: %.200s", resp.StatusCode, raw)
				}
				return d.ID, nil
			case resp.StatusCode < 500:
				return "", fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, raw)
			default:
				last = fmt.Sprintf("HTTP %d: %.200s", resp.StatusCode, raw)
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("gave up after 10 attempts (last: %s)", last)
}

// add counts other's jobs, problems and notes in r.
func (r Result) add(other Result) Result {
	r.Submitted += other.Submitted
	r.Accepted += other.Accepted
	r.Succeeded += other.Succeeded
	r.Failed += other.Failed
	r.Lost += other.Lost
	r.Duplicated += other.Duplicated
	r.Problems = append(r.Problems, other.Problems...)
	r.Notes = append(r.Notes, other.Notes...)
	return r
}
