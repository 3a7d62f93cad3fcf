package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/docket-dev/docket/config"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/tools/testdocs"
	"github.com/docket-dev/docket/tools/teststack"
)

// pagesStack is an API and OCR workers of their own on a task queue of
// their own, configured by tune, sharing the tests' server and blob store.
func pagesStack(t *testing.T, identities []string, tune func(*config.Config)) *httptest.Server {
	t.Helper()
	queue := "docket-pages-" + uuid.NewString()[:8]
	for _, id := range identities {
		w, err := teststack.StartWorker(stack.server.Client(), teststack.WorkerOptions{
			TaskQueue: queue, Identity: id, Docs: stack.docs, Tune: tune,
		})
		require.NoError(t, err)
		t.Cleanup(w.Stop)
	}
	api := teststack.StartAPI(stack.server.Client(), queue, stack.docs)
	t.Cleanup(api.Close)
	return api
}

// countTesseract puts a tesseract on PATH that logs each run before running
// the real one, and returns a function counting the runs so far.
func countTesseract(t *testing.T) func() int {
	t.Helper()
	real, err := exec.LookPath("tesseract")
	require.NoError(t, err)
	dir := t.TempDir()
	log := filepath.Join(dir, "runs")
	// Page reads only: not --version or --list-langs.
	script := "#!/bin/sh\ncase \"$1\" in --*) ;; *) echo run >> " + log + " ;; esac\nexec " + real + " \"$@\"\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tesseract"), []byte(script), 0o755))
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return func() int {
		b, err := os.ReadFile(log)
		if os.IsNotExist(err) {
			return 0
		}
		require.NoError(t, err)
		return strings.Count(string(b), "run\n")
	}
}

// scannedPDF is a PDF of n scanned pages, page i reading "Reference <base+i>".
func scannedPDF(t *testing.T, n, base int) []byte {
	t.Helper()
	var pages []testdocs.Page
	for i := 1; i <= n; i++ {
		img, err := testdocs.Render([]string{fmt.Sprintf("Reference %d", base+i)}, 40)
		require.NoError(t, err)
		pages = append(pages, testdocs.Page{Image: img})
	}
	return testdocs.PDF(pages)
}

// A long scanned document's pages are shared out in batches: both OCR
// workers read some, each page is read by tesseract once, the result holds
// every page in order, and a second job on the same document reads none
// again (the OCR cache).
func TestLongDocumentReadByEveryWorker(t *testing.T) {
	runs := countTesseract(t)
	api := pagesStack(t, []string{"pages-a", "pages-b"}, func(c *config.Config) {
		c.OCRParallelism, c.OCRBatchPages, c.OCRConcurrency = 1, 2, 1
		c.OCRCache = true
	})
	base := 10000 + int(uuid.New().ID()%80000)
	d := uploadDoc(t, scannedPDF(t, 8, base))
	before := runs()

	v, res := runDocumentJob(t, api.URL, map[string]any{"document_id": d.ID, "steps": []string{"ocr"}})
	require.Equal(t, job.StatusSucceeded, v.Status, "view: %+v", v)
	require.Len(t, v.Steps, 1, "the batches are the one ocr step")
	s := v.Steps[0]
	require.ElementsMatch(t, []string{"pages-a", "pages-b"}, s.Workers, "both workers took pages")
	require.Equal(t, &job.Progress{Done: 8, Total: 8}, s.Progress)
	require.Equal(t, 8, res.Result.Pages)
	require.Len(t, res.Result.PageTexts, 8)
	for i, p := range res.Result.PageTexts {
		require.Equal(t, i+1, p.Page)
		require.Equal(t, "ocr", p.Method)
		require.False(t, p.Cached)
		require.Contains(t, p.Text, fmt.Sprint(base+i+1), "page %d", p.Page)
	}
	require.Equal(t, 8, runs()-before, "every page read once, by one worker")

	v, again := runDocumentJob(t, api.URL, map[string]any{"document_id": d.ID, "steps": []string{"ocr"}})
	require.Equal(t, job.StatusSucceeded, v.Status)
	require.Equal(t, 8, again.Result.CachedPages)
	for i, p := range again.Result.PageTexts {
		require.True(t, p.Cached, "page %d", p.Page)
		require.Equal(t, res.Result.PageTexts[i].Text, p.Text)
	}
	require.Equal(t, 8, runs()-before, "the second job ran no tesseract")
}

// A page that takes longer than the page time limit carries its error and
// the job succeeds with the other pages; a strict job fails instead. The
// workers' page limit refuses a longer document at the ocr step, and the
// API's at upload.
func TestPageFailuresAndLimits(t *testing.T) {
	api := pagesStack(t, []string{"pages-slow"}, func(c *config.Config) {
		c.OCRPageTimeout = time.Millisecond
		c.MaxPages = 2
		c.OCRCache = false
	})
	scan, err := testdocs.Render([]string{"Reference 31337"}, 40)
	require.NoError(t, err)
	mixed := uploadDoc(t, testdocs.PDF([]testdocs.Page{
		{Text: []string{"First page has a text layer " + uuid.NewString()[:8], "with enough characters to count as one."}},
		{Image: scan},
	}))

	t.Run("partial", func(t *testing.T) {
		v, res := runDocumentJob(t, api.URL, map[string]any{"document_id": mixed.ID, "steps": []string{"ocr", "entities"}})
		require.Equal(t, job.StatusSucceeded, v.Status, "view: %+v", v)
		pages := res.Result.PageTexts
		require.Len(t, pages, 2)
		require.Nil(t, pages[0].Error)
		require.Contains(t, pages[0].Text, "First page has a text layer")
		require.NotNil(t, pages[1].Error)
		require.Equal(t, job.FailPageTimeout, pages[1].Error.Type)
		require.Contains(t, pages[1].Error.Message, "page 2")
		require.Empty(t, pages[1].Text)
		require.Equal(t, 1, res.Result.FailedPages)
		require.NotNil(t, res.Result.Entities, "the later steps ran on the pages read")
	})
	t.Run("strict", func(t *testing.T) {
		v, _ := runDocumentJob(t, api.URL, map[string]any{"document_id": mixed.ID, "steps": []string{"ocr"}, "strict": true})
		require.Equal(t, job.StatusFailed, v.Status)
		require.Equal(t, job.FailPageTimeout, v.Error.Type)
		require.False(t, v.Error.Retryable)
	})
	three := testdocs.PDF([]testdocs.Page{{Text: []string{"one " + uuid.NewString()}}, {Text: []string{"two"}}, {Text: []string{"three"}}})
	t.Run("too many pages at the ocr step", func(t *testing.T) {
		d := uploadDoc(t, three)
		v, _ := runDocumentJob(t, api.URL, map[string]any{"document_id": d.ID, "steps": []string{"ocr"}})
		require.Equal(t, job.StatusFailed, v.Status)
		require.Equal(t, job.FailTooManyPages, v.Error.Type)
		require.Contains(t, v.Error.Message, "3 pages")
		require.False(t, v.Error.Retryable)
	})
	t.Run("too many pages at upload", func(t *testing.T) {
		docs := *stack.docs
		docs.MaxPages = 2
		limited := teststack.StartAPI(stack.server.Client(), "docket-pages-upload", &docs)
		defer limited.Close()
		other := testdocs.PDF([]testdocs.Page{{Text: []string{"one " + uuid.NewString()}}, {Text: []string{"two"}}, {Text: []string{"three"}}})
		r := upload(t, limited.URL, other, "application/pdf", "three.pdf")
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "body: %s", r.Body)
		p := r.problem(t)
		require.Equal(t, "file", p.Field)
		require.Contains(t, p.Detail, "3 pages")
		require.Contains(t, p.Type, "too-many-pages")
	})
}

// Canceling a long document's job stops every batch: no activity of it is
// left pending.
func TestCancelLongDocument(t *testing.T) {
	api := pagesStack(t, []string{"pages-c", "pages-d"}, func(c *config.Config) {
		c.OCRParallelism, c.OCRBatchPages, c.OCRConcurrency = 1, 2, 1
		c.OCRCache = false
	})
	d := uploadDoc(t, scannedPDF(t, 16, 90000+int(uuid.New().ID()%9000)))
	r := call(t, api.URL, http.MethodPost, "/jobs", jsonBody(t, map[string]any{"type": job.TypeDocument, "input": map[string]any{"document_id": d.ID}}), nil)
	require.Equal(t, http.StatusAccepted, r.Status)
	id := r.view(t).ID
	waitFor(t, api.URL, id, func(v job.View) bool {
		return len(v.Steps) > 0 && len(v.Steps[0].Workers) == 2
	})
	require.Equal(t, http.StatusAccepted, call(t, api.URL, http.MethodDelete, "/jobs/"+id, nil, nil).Status)
	res := waitResultAt(t, api.URL, id)
	require.Equal(t, string(job.StatusCanceled), res.problem(t).JobStatus)
	v := call(t, api.URL, http.MethodGet, "/jobs/"+id, nil, nil).view(t)
	require.Equal(t, job.StatusCanceled, v.Steps[0].Status)
	require.Less(t, v.Steps[0].Progress.Done, int64(16))
	desc, err := stack.server.Client().DescribeWorkflowExecution(context.Background(), id, "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, desc.GetWorkflowExecutionInfo().GetStatus())
	require.Empty(t, desc.GetPendingActivities(), "every batch stopped")
}

// A damaged page inside a good scan carries its error; the other pages are
// read and the job succeeds, unless it is strict.
func TestDamagedPageIsReportedOnItsPage(t *testing.T) {
	base := 50000 + int(uuid.New().ID()%40000)
	pdf, err := testdocs.DamageImage(scannedPDF(t, 3, base), 2)
	require.NoError(t, err)
	d := uploadDoc(t, pdf)
	require.Equal(t, 3, d.Pages)

	v, res := runDocumentJob(t, stack.api.URL, map[string]any{"document_id": d.ID, "steps": []string{"ocr"}})
	require.Equal(t, job.StatusSucceeded, v.Status, "view: %+v", v)
	pages := res.Result.PageTexts
	require.Len(t, pages, 3)
	require.Contains(t, pages[0].Text, fmt.Sprint(base+1))
	require.Contains(t, pages[2].Text, fmt.Sprint(base+3))
	require.NotNil(t, pages[1].Error)
	require.Equal(t, job.FailPageUnreadable, pages[1].Error.Type)
	require.Equal(t, job.PageMethodNone, pages[1].Method)
	require.Equal(t, 1, res.Result.FailedPages)

	v, _ = runDocumentJob(t, stack.api.URL, map[string]any{"document_id": d.ID, "steps": []string{"ocr"}, "strict": true})
	require.Equal(t, job.StatusFailed, v.Status)
	require.Equal(t, job.FailPageUnreadable, v.Error.Type)
	require.Contains(t, v.Error.Message, "page 2")
}
