package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

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

// documentResumed is scenario 1's document case: a multi-page scanned PDF
// is uploaded, a document job with the ocr step starts, and once the OCR
// activity has recorded some pages (but not all) the worker running it is
// killed with SIGKILL. The job must complete on the other worker, every
// page's text must be right, and the retried attempt must be handed the
// progress recorded before the kill (the pages it lists are not read
// again) and never show less.
func (r *runner) documentResumed(ctx context.Context, res Result) Result {
	s := r.cfg.Scale
	topo := r.cfg.Topology
	// The sum case's victim is still down: both workers must run.
	if err := r.ensureAllUp(ctx); err != nil {
		res.Problems = append(res.Problems, "document case: restart the topology: "+err.Error())
		return res
	}
	since := time.Now()
	pdf, markers, err := chaosDocument(r.cfg.RunID, s.DocPages, s.DocPx)
	if err != nil {
		res.Problems = append(res.Problems, "document case: render the document: "+err.Error())
		return res
	}
	docID, err := r.api.upload(ctx, pdf, "chaos-"+r.cfg.RunID+".pdf")
	if err != nil {
		res.Problems = append(res.Problems, "document case: upload: "+err.Error())
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
			res.Problems = append(res.Problems, fmt.Sprintf("pid of %s: %v", w, err))
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

	// Wait until the OCR step runs with some pages recorded and some left.
	// done >= 2: the activity's first heartbeat, which only announces the
	// total, already counts 1 (a placeholder entry, no page); from 2 on at
	// least one page's text is stored and listed in the heartbeat.
	var before job.Progress
	victim := ""
	deadline := time.Now().Add(time.Minute)
	for victim == "" {
		v, _, err := r.api.get(ctx, id, 0)
		if err == nil {
			if v.Status.Terminal() {
				res.Problems = append(res.Problems, fmt.Sprintf("document job %s ended %s before it could be caught mid-OCR", shortID(id), v.Status))
				return res.add(r.finish(ctx, Result{}, subs, since))
			}
			st := stepNamed(v, steps.OCR.Name)
			if st != nil && st.Status == job.StatusRunning && st.Attempt == 1 && st.Progress != nil &&
				st.Progress.Done >= 2 && st.Progress.Done < st.Progress.Total {
				if w := workerOf(st.Worker); w != "" {
					victim, before = w, *st.Progress
					break
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("document job %s: the OCR step was never seen running with pages left", shortID(id)))
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
	r.logf("document job %s: ocr %d/%d pages on %s; killing it with SIGKILL", shortID(id), before.Done, before.Total, victim)
	killedAt := time.Now()
	if err := topo.Kill(ctx, victim); err != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("kill %s: %v", victim, err))
		return res.add(r.finish(ctx, Result{}, subs, since))
	}

	// Watch the retry as the sum case does: the first view of attempt >= 2
	// shows the progress Temporal hands it (attempt 1's last heartbeat).
	var (
		mu                     sync.Mutex
		seen                   bool
		handover, least        int64
		handoverAt             time.Time
		retryWorker            string
		retryStarted, retryEnd *time.Time
	)
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for watchCtx.Err() == nil {
			v, _, err := r.api.get(watchCtx, id, 1)
			if err == nil {
				if v.Status.Terminal() {
					return
				}
				if st := stepNamed(v, steps.OCR.Name); st != nil && st.Attempt >= 2 && st.Progress != nil {
					mu.Lock()
					if !seen {
						seen, handover, least, handoverAt = true, st.Progress.Done, st.Progress.Done, time.Now()
					}
					least = min(least, st.Progress.Done)
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

	v, _, err := r.api.get(ctx, id, 0)
	st := stepNamed(v, steps.OCR.Name)
	if err != nil || v.Status != job.StatusSucceeded || st == nil {
		res.Problems = append(res.Problems, fmt.Sprintf("document job %s ended %s (%v)", shortID(id), v.Status, err))
		return res
	}
	retryWorker = workerOf(st.Worker)
	retryStarted, retryEnd = st.StartedAt, st.FinishedAt
	ok := true
	if retryWorker != survivor {
		res.Problems = append(res.Problems, fmt.Sprintf("document job %s completed on %q, not on %s", shortID(id), st.Worker, survivor))
	}
	if st.Attempt < 2 {
		ok = false
		res.Problems = append(res.Problems, fmt.Sprintf("document job %s completed in attempt %d: the killed attempt was not retried", shortID(id), st.Attempt))
	}
	handed := "the retry was not seen while pending"
	if !seen {
		ok = false
	} else {
		handed = fmt.Sprintf("the retry was first shown done=%d/%d %s after the kill and never less (least %d)",
			handover, before.Total, handoverAt.Sub(killedAt).Round(100*time.Millisecond), least)
		if handover < before.Done || least < handover {
			ok = false
			handed = fmt.Sprintf("the retry showed done=%d, then least %d: below the %d done before the kill", handover, least, before.Done)
		}
	}
	took := "unknown"
	if retryStarted != nil && retryEnd != nil {
		took = retryEnd.Sub(*retryStarted).Round(10 * time.Millisecond).String()
	}
	pagesOK := r.checkPages(ctx, id, markers)
	res.Notes = append(res.Notes, fmt.Sprintf("document job %s: %d-page scanned PDF, ocr %d/%d pages done when %s was killed %s after the start; %s; attempt %d on %s took %s; %s; pages %s",
		shortID(id), s.DocPages, before.Done, before.Total, victim, killedAt.Sub(since).Round(100*time.Millisecond), handed, st.Attempt, survivor, took, r.retryCause(ctx, id), pagesOK))
	if pagesOK != "correct" {
		res.Problems = append(res.Problems, fmt.Sprintf("document job %s: pages %s", shortID(id), pagesOK))
	}
	if ok {
		res.Notes = append(res.Notes, fmt.Sprintf("the document job's OCR resumed on %s from its last recorded progress (%d of %d pages)", survivor, handover, before.Total))
	} else {
		res.Problems = append(res.Problems, fmt.Sprintf("document job %s: the OCR did not resume from its last recorded progress", shortID(id)))
	}
	return res
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
