package activities_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/docket-dev/docket/activities"
	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/llm"
	"github.com/docket-dev/docket/ocr"
	"github.com/docket-dev/docket/steps"
	"github.com/docket-dev/docket/tools/testdocs"
	"github.com/docket-dev/docket/tools/teststack"
)

func docActivities(t *testing.T) (*activities.DocumentActivities, *documents.Store) {
	t.Helper()
	store, err := teststack.NewStore(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	model, err := llm.New(llm.Config{}, nil)
	require.NoError(t, err)
	return &activities.DocumentActivities{Worker: "doc-test", Docs: store, Engine: store.Engine, LLM: model, TempDir: t.TempDir()}, store
}

func scannedPDF(t *testing.T, pages int) []byte {
	t.Helper()
	var ps []testdocs.Page
	for i := range pages {
		img, err := testdocs.Render([]string{fmt.Sprintf("Scanned page number %d", i+1)}, 32)
		require.NoError(t, err)
		ps = append(ps, testdocs.Page{Image: img})
	}
	return testdocs.PDF(ps)
}

func runOCR(t *testing.T, a *activities.DocumentActivities, in job.OCRInput, details any) (job.OCRResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(a.OCR, activity.RegisterOptions{Name: steps.OCR.Name})
	if details != nil {
		env.SetHeartbeatDetails(details)
	}
	v, err := env.ExecuteActivity(steps.OCR.Name, in)
	if err != nil {
		return job.OCRResult{}, err
	}
	var out job.StepOutput[job.OCRResult]
	require.NoError(t, v.Get(&out))
	require.Equal(t, "doc-test", out.Report.Worker)
	return out.Result, nil
}

func TestOCRReadsEveryPage(t *testing.T) {
	a, store := docActivities(t)
	d, _, err := store.Put(context.Background(), strings.NewReader(string(scannedPDF(t, 3))), "scan.pdf", 1<<20)
	require.NoError(t, err)
	res, err := runOCR(t, a, job.OCRInput{JobID: "job-1", DocumentID: d.ID, Language: "eng"}, nil)
	require.NoError(t, err)
	require.Equal(t, 3, res.Pages)
	for i, p := range res.PageTexts {
		require.Equal(t, i+1, p.Page)
		require.Equal(t, "ocr", p.Method)
		require.Contains(t, p.Text, fmt.Sprintf("Scanned page number %d", i+1))
		stored, err := store.GetText(context.Background(), documents.PageKey("job-1", i+1))
		require.NoError(t, err)
		require.Equal(t, p.Text, stored)
	}
}

// A retried attempt resumes from the pages its predecessor recorded in its
// heartbeat: those pages are not read again (their stored text, replaced
// here by a marker, survives), the others are.
func TestOCRResumesFromHeartbeat(t *testing.T) {
	a, store := docActivities(t)
	ctx := context.Background()
	d, _, err := store.Put(ctx, strings.NewReader(string(scannedPDF(t, 3))), "scan.pdf", 1<<20)
	require.NoError(t, err)
	require.NoError(t, store.PutText(ctx, documents.PageKey("job-2", 1), "MARKER ONE"))
	require.NoError(t, store.PutText(ctx, documents.PageKey("job-2", 2), "MARKER TWO"))
	details := activities.OCRProgress{Done: 2, Total: 3, Pages: []activities.PageRef{
		{Page: 1, Method: "ocr", Chars: 10},
		{Page: 2, Method: "ocr", Chars: 10},
		// Recorded but its text is missing: it must be read again.
		{Page: 3, Method: "ocr", Chars: 10},
	}}

	res, err := runOCR(t, a, job.OCRInput{JobID: "job-2", DocumentID: d.ID, Language: "eng"}, details)
	require.NoError(t, err)
	require.Equal(t, "MARKER ONE", res.PageTexts[0].Text)
	require.Equal(t, "MARKER TWO", res.PageTexts[1].Text)
	require.Contains(t, res.PageTexts[2].Text, "Scanned page number 3")
}

func TestOCRBadDocumentIsNotRetryable(t *testing.T) {
	a, store := docActivities(t)
	pdf := scannedPDF(t, 1)
	d, _, err := store.Put(context.Background(), strings.NewReader(string(pdf[:len(pdf)/3])), "cut.pdf", 1<<20)
	require.NoError(t, err)
	_, err = runOCR(t, a, job.OCRInput{JobID: "job-3", DocumentID: d.ID, Language: "eng"}, nil)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, "unreadable_document", appErr.Type())
	require.True(t, appErr.NonRetryable())

	_, err = runOCR(t, a, job.OCRInput{JobID: "job-3", DocumentID: strings.Repeat("0", 64), Language: "eng"}, nil)
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, job.FailDocumentNotFound, job.Failure(appErr.Type()))
	require.True(t, appErr.NonRetryable())
}

// OCR heartbeats only what a retry needs: not the bare total before any
// page is read, and not the last page (the completion follows at once and
// carries every page), so a one-page document read within a second costs
// the server no heartbeat at all.
func TestOCRHeartbeatsOnlyWhatARetryNeeds(t *testing.T) {
	a, store := docActivities(t)
	a.Parallelism = 1
	a.BeatEvery = time.Hour // only the pages' own heartbeats
	d, _, err := store.Put(context.Background(), strings.NewReader(string(scannedPDF(t, 3))), "scan.pdf", 1<<20)
	require.NoError(t, err)

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(a.OCR, activity.RegisterOptions{Name: steps.OCR.Name})
	var done []int64
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var p activities.OCRProgress
		require.NoError(t, details.Get(&p))
		require.EqualValues(t, 3, p.Total)
		require.Len(t, p.Pages, int(p.Done))
		done = append(done, p.Done)
	})
	_, err = env.ExecuteActivity(steps.OCR.Name, job.OCRInput{JobID: "job-hb", DocumentID: d.ID, Language: "eng"})
	require.NoError(t, err)
	// The SDK sends the first heartbeat at once and throttles the rest.
	require.NotEmpty(t, done)
	require.EqualValues(t, 1, done[0])
	require.NotContains(t, done, int64(3))
}

// chatServer is a Chat Completions endpoint on loopback that answers every
// request with summary and records each request's max_tokens, which shows
// the summary length the activity asked for.
func chatServer(t *testing.T, summary string) (*httptest.Server, *[]float64) {
	t.Helper()
	var maxTokens []float64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			MaxTokens float64 `json:"max_tokens"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		maxTokens = append(maxTokens, body.MaxTokens)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion", "created": 1717000000, "model": "test-model",
			"choices": []any{map[string]any{
				"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": summary},
			}},
		})
	}))
	t.Cleanup(srv.Close)
	return srv, &maxTokens
}

func runSummarize(t *testing.T, a *activities.DocumentActivities, in job.TextInput) job.SummaryResult {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(a.Summarize, activity.RegisterOptions{Name: steps.Summarize.Name})
	v, err := env.ExecuteActivity(steps.Summarize.Name, in)
	require.NoError(t, err)
	var out job.StepOutput[job.SummaryResult]
	require.NoError(t, v.Get(&out))
	return out.Result
}

// The summariser's Truncated reaches the step's result, so that a client
// learns when only the beginning of a long document was summarised; and a
// TextInput without max_words gets the job's default length, the only one.
func TestSummarizeReportsTruncation(t *testing.T) {
	const maxInput = 200
	page := "The supplier delivered the goods on time and the invoice was paid. "
	tests := []struct {
		name          string
		pages         []string
		llm           bool
		maxWords      int
		wantTruncated bool
		wantMaxTokens float64
	}{
		{"llm, long text", []string{strings.Repeat(page, 4), strings.Repeat(page, 4)}, true, 40, true, 40*2 + 64},
		{"llm, short text", []string{page}, true, 40, false, 40*2 + 64},
		{"llm, text exactly at the limit", []string{strings.Repeat("x", maxInput)}, true, 40, false, 40*2 + 64},
		{"llm, no max_words", []string{strings.Repeat(page, 8)}, true, 0, true, job.DefaultSummaryWords*2 + 64},
		// The extractive summariser reads the whole text, however long.
		{"extractive, long text", []string{strings.Repeat(page, 40)}, false, 40, false, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, store := docActivities(t)
			srv, maxTokens := chatServer(t, "Goods delivered, invoice paid.")
			if tt.llm {
				model, err := llm.New(llm.Config{BaseURL: srv.URL + "/v1", Model: "test-model", MaxInputChars: maxInput}, srv.Client())
				require.NoError(t, err)
				a.LLM = model
			}
			jobID := fmt.Sprintf("sum-%d", i)
			for n, text := range tt.pages {
				require.NoError(t, store.PutText(context.Background(), documents.PageKey(jobID, n+1), text))
			}
			res := runSummarize(t, a, job.TextInput{JobID: jobID, Pages: len(tt.pages), MaxWords: tt.maxWords})
			require.Equal(t, tt.wantTruncated, res.Truncated)
			require.NotEmpty(t, res.Text)
			if tt.llm {
				require.Equal(t, llm.MethodLLM, res.Method)
				require.Equal(t, []float64{tt.wantMaxTokens}, *maxTokens)
			} else {
				require.Equal(t, llm.MethodExtractive, res.Method)
				require.Empty(t, *maxTokens)
			}
			b, err := json.Marshal(res)
			require.NoError(t, err)
			if tt.wantTruncated {
				require.Contains(t, string(b), `"truncated":true`)
			} else {
				require.NotContains(t, string(b), `"truncated"`)
			}
		})
	}
}

// countingEngine is an OCR engine whose tools are wrappers that count each
// run, by tool, and exec the real tool.
func countingEngine(t *testing.T) (*ocr.Engine, func(tool string) int) {
	t.Helper()
	dir := t.TempDir()
	wrap := func(tool string) string {
		real, err := exec.LookPath(tool)
		require.NoError(t, err)
		w := filepath.Join(dir, tool)
		script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in --list-langs) ;; *) echo x >> '%s/%s.log' ;; esac\nexec '%s' \"$@\"\n", dir, tool, real)
		require.NoError(t, os.WriteFile(w, []byte(script), 0o700))
		return w
	}
	e := &ocr.Engine{Tesseract: wrap("tesseract"), PDFToText: wrap("pdftotext"), PDFToPPM: wrap("pdftoppm"),
		PDFInfo: wrap("pdfinfo"), PDFImages: wrap("pdfimages"), TempDir: t.TempDir()}
	return e, func(tool string) int {
		data, err := os.ReadFile(filepath.Join(dir, tool+".log"))
		if os.IsNotExist(err) {
			return 0
		}
		require.NoError(t, err)
		return strings.Count(string(data), "x")
	}
}

// A long PDF of one text line per page is read from its text layer whole:
// one pdftotext run, no rasterising or recognition; a retry still resumes
// from exactly the pages its heartbeat recorded.
func TestOCRLongTextPDFWithoutOCR(t *testing.T) {
	const n = 310
	var pages []testdocs.Page
	for i := range n {
		pages = append(pages, testdocs.Page{Text: []string{fmt.Sprintf("Text of page %d.", i+1)}})
	}
	tests := []struct {
		name    string
		details any
		markers map[int]string
	}{
		{"first attempt", nil, nil},
		{"resumed", activities.OCRProgress{Done: 2, Total: n, Pages: []activities.PageRef{
			{Page: 1, Method: "text-layer", Chars: 8}, {Page: 200, Method: "text-layer", Chars: 8},
		}}, map[int]string{1: "MARKER 1", 200: "MARKER 200"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, store := docActivities(t)
			engine, runs := countingEngine(t)
			a.Engine = engine
			ctx := context.Background()
			d, _, err := store.Put(ctx, strings.NewReader(string(testdocs.PDF(pages))), "long.pdf", 1<<20)
			require.NoError(t, err)
			jobID := fmt.Sprintf("long-%d", i)
			for page, text := range tt.markers {
				require.NoError(t, store.PutText(ctx, documents.PageKey(jobID, page), text))
			}
			res, err := runOCR(t, a, job.OCRInput{JobID: jobID, DocumentID: d.ID, Language: "eng"}, tt.details)
			require.NoError(t, err)
			require.Equal(t, n, res.Pages)
			require.Len(t, res.PageTexts, n)
			for _, p := range res.PageTexts {
				want := fmt.Sprintf("Text of page %d.", p.Page)
				if m, ok := tt.markers[p.Page]; ok {
					want = m
				}
				require.Equal(t, want, p.Text, "page %d", p.Page)
				require.Equal(t, "text-layer", p.Method)
			}
			require.Zero(t, runs("pdftoppm"))
			require.Zero(t, runs("tesseract"))
			require.Equal(t, 1, runs("pdftotext"))
			require.Equal(t, 1, runs("pdfimages"))
		})
	}
}
