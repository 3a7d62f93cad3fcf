package workflows

import (
	"slices"
	"strconv"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

// changeOCRFanOut: the ocr step may answer a long document with a plan,
// whose batches of pages the workflow hands to ocr_pages activities on every
// OCR worker, then builds the result with ocr_assemble.
const changeOCRFanOut = "ocr-fan-out"

// runOCR runs the ocr step of a document or extract job. A short document
// is read by the one ocr activity, exactly as before fan-out (so a one-page
// job pays nothing extra); a long one comes back with a plan, and its pages
// are read in batches by as many OCR workers as poll the queue, all shown as
// the one ocr step of the job's view.
func runOCR(ctx workflow.Context, r *jobRun, in job.OCRInput) (job.OCRResult, job.StepReport, error) {
	if workflow.GetVersion(ctx, changeOCRFanOut, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return runStep(ctx, r, steps.OCR, in)
	}
	in.FanOut = true
	opts := steps.OCR.Options(workflow.GetInfo(ctx).TaskQueueName)
	opts.Summary = job.StepSummaryOf(steps.OCR.Name, r.view.Input)
	idx := r.beginStep(ctx, steps.OCR.Name)
	var out job.StepOutput[job.OCRResult]
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), steps.OCR.Name, in).Get(ctx, &out)
	if err != nil || out.Result.Plan == nil {
		r.endStep(ctx, idx, out.Report, err)
		return out.Result, out.Report, err
	}
	// The inspecting attempt is done; the step goes on in the batches.
	r.stepStarted(idx, out.Report)
	res, last, err := r.readBatches(ctx, idx, in, out.Result)
	rep := out.Report
	if err == nil {
		rep.FinishedAt = last.FinishedAt
		// The step's final progress and the workers' list stay as the
		// batches left them; endStep keeps them.
		last.StartedAt, last.Worker, last.Attempt = rep.StartedAt, rep.Worker, rep.Attempt
		last.Progress = &job.Progress{Done: int64(res.Pages), Total: int64(res.Pages)}
	}
	r.endStep(ctx, idx, last, err)
	return res, rep, err
}

// fanOut is what the workflow knows of a long document's batches while
// they run: the pages read so far (by finished batches, and by running ones
// as their heartbeats report) for the step's progress, and the workers that
// took part.
type fanOut struct {
	idx     int   // the ocr step's index in the view
	base    int64 // pages done before the batches (text layer, cache)
	total   int64
	done    int64            // pages of finished batches
	running map[string]int64 // pages read so far by each running batch, by activity id
}

// readBatches schedules every batch of the plan at once (the OCR queue
// hands them to whichever workers poll it, interleaved with other jobs'
// tasks by priority and fairness) and waits for all of them. The first
// failure cancels the others and is the step's.
func (r *jobRun) readBatches(ctx workflow.Context, idx int, in job.OCRInput, first job.OCRResult) (job.OCRResult, job.StepReport, error) {
	plan := first.Plan
	f := &fanOut{idx: idx, base: int64(len(first.PageTexts)), total: int64(first.Pages), running: map[string]int64{}}
	r.fan = f
	defer func() { r.fan = nil }()
	r.setProgress(ctx, idx, f.base, f.total)

	opts := steps.OCRPages.Options(workflow.GetInfo(ctx).TaskQueueName)
	opts.Priority = batchPriority(workflow.GetInfo(ctx).Priority, in)
	bctx, cancel := workflow.WithCancel(workflow.WithActivityOptions(ctx, opts))
	defer cancel()
	sel := workflow.NewSelector(ctx)
	pages := slices.Clone(first.PageTexts)
	var failed error
	var last job.StepReport
	for i, batch := range plan.Batches {
		// Deterministic ids, so that progress events name their batch;
		// the Web UI shows which pages each reads.
		bo := withID(opts, batchID(i))
		bo.Summary = "ocr pages " + pageSpan(batch)
		actx := workflow.WithActivityOptions(bctx, bo)
		fut := workflow.ExecuteActivity(actx, steps.OCRPages.Name, job.OCRPagesInput{
			JobID: in.JobID, Tenant: in.Tenant, DocumentID: in.DocumentID, Language: in.Language, Strict: in.Strict, Pages: batch,
		})
		id := batchID(i)
		sel.AddFuture(fut, func(fut workflow.Future) {
			var out job.StepOutput[job.OCRPagesResult]
			err := fut.Get(ctx, &out)
			delete(f.running, id)
			if err != nil {
				if failed == nil {
					failed = err
					cancel()
				}
				return
			}
			pages = append(pages, out.Result.PageTexts...)
			f.done += int64(len(out.Result.PageTexts))
			r.addWorker(idx, out.Report.Worker)
			if out.Report.FinishedAt.After(last.FinishedAt) {
				last = out.Report
			}
			r.setProgress(ctx, idx, f.base+f.done+f.sum(), f.total)
		})
	}
	for range plan.Batches {
		sel.Select(ctx)
	}
	if failed != nil {
		return job.OCRResult{}, last, failed
	}
	slices.SortFunc(pages, func(a, b job.PageText) int { return a.Page - b.Page })
	ao := steps.OCRAssemble.Options(workflow.GetInfo(ctx).TaskQueueName)
	ao.Summary = "ocr assemble · " + strconv.Itoa(first.Pages) + " pages"
	actx := workflow.WithActivityOptions(ctx, ao)
	var out job.StepOutput[job.OCRResult]
	err := workflow.ExecuteActivity(actx, steps.OCRAssemble.Name, job.OCRAssembleInput{
		JobID: in.JobID, Tenant: in.Tenant, Pages: first.Pages, PageTexts: pages,
	}).Get(ctx, &out)
	if err == nil && out.Report.FinishedAt.After(last.FinishedAt) {
		last.FinishedAt = out.Report.FinishedAt
	}
	return out.Result, last, err
}

func (f *fanOut) sum() int64 {
	var n int64
	for _, v := range f.running {
		n += v
	}
	return n
}

// pageSpan names a batch's pages: "5–8", or "5, 7" when not consecutive.
func pageSpan(pages []int) string {
	if len(pages) == 0 {
		return ""
	}
	first, last := pages[0], pages[len(pages)-1]
	if last-first == len(pages)-1 {
		if first == last {
			return strconv.Itoa(first)
		}
		return strconv.Itoa(first) + "–" + strconv.Itoa(last)
	}
	parts := make([]string, len(pages))
	for i, p := range pages {
		parts[i] = strconv.Itoa(p)
	}
	return strings.Join(parts, ", ")
}

// batchID is the activity id of batch i of the plan.
func batchID(i int) string { return "ocr-pages-" + strconv.Itoa(i+1) }

func withID(o workflow.ActivityOptions, id string) workflow.ActivityOptions {
	o.ActivityID = id
	return o
}

// batchPriority runs a long document's batches one priority level below its
// job (Temporal's priority keys: 1 first, 5 last), so that another job's
// first pages are taken before the rest of a long document: one huge
// document cannot keep small ones waiting, whoever sent them. Their
// fairness key is the job's tenant (as for every step) or, for a job without
// one, the job itself, so that two long documents share the OCR fleet.
func batchPriority(p temporal.Priority, in job.OCRInput) temporal.Priority {
	key := p.PriorityKey
	if key == 0 {
		key = job.PriorityDefault
	}
	p.PriorityKey = min(key+1, job.PriorityLowest)
	if in.Tenant == "" {
		p.FairnessKey = in.JobID
	}
	return p
}

// onBatchEvent applies an ocr_pages activity's step event to the ocr step:
// the worker joins the step's workers and the batch's pages so far count in
// its progress. Events of a batch that has finished arrive late and change
// nothing.
func (r *jobRun) onBatchEvent(ctx workflow.Context, ev job.StepEvent) {
	f := r.fan
	if f == nil || ev.Activity == "" {
		return
	}
	r.addWorker(f.idx, ev.Worker)
	r.markRunning(ctx)
	if ev.Progress == nil {
		if _, ok := f.running[ev.Activity]; !ok {
			f.running[ev.Activity] = 0
		}
		return
	}
	if ev.Progress.Done > f.running[ev.Activity] {
		f.running[ev.Activity] = ev.Progress.Done
	}
	r.setProgress(ctx, f.idx, f.base+f.done+f.sum(), f.total)
}

// addWorker adds a worker to the step's workers, once.
func (r *jobRun) addWorker(idx int, worker string) {
	s := &r.view.Steps[idx]
	if worker != "" && !slices.Contains(s.Workers, worker) {
		s.Workers = append(s.Workers, worker)
	}
}

// setProgress sets a step's progress, never backwards.
func (r *jobRun) setProgress(ctx workflow.Context, idx int, done, total int64) {
	s := &r.view.Steps[idx]
	if s.Progress != nil && s.Progress.Done > done {
		return
	}
	s.Progress = &job.Progress{Done: min(done, total), Total: total}
	workflow.SetCurrentDetails(ctx, s.Name+" "+strconv.Itoa(int(s.Progress.Done))+"/"+strconv.Itoa(int(total)))
}

// stepStarted records the attempt that started a step whose work goes on
// after it (the inspecting ocr attempt of a long document).
func (r *jobRun) stepStarted(idx int, rep job.StepReport) {
	s := &r.view.Steps[idx]
	started := rep.StartedAt.UTC().Truncate(job.TimePrecision)
	s.Status, s.Attempt, s.Worker, s.StartedAt = job.StatusRunning, rep.Attempt, rep.Worker, &started
	if rep.Worker != "" && !slices.Contains(s.Workers, rep.Worker) {
		s.Workers = append(s.Workers, rep.Worker)
	}
	if r.view.StartedAt == nil {
		r.view.StartedAt = &started
	}
}
