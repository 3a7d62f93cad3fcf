package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/llm"
	"github.com/docket-dev/docket/tools/testdocs"
	"github.com/docket-dev/docket/tools/teststack"
)

var invoiceLines = []string{
	"Invoice 4821 from Acme Trading Ltd",
	"Date: 12 March 2024",
	"Contact: billing@acme-trading.com",
	"Total due: EUR 1375.50",
}

func pngDoc(t *testing.T, lines []string) []byte {
	t.Helper()
	b, err := testdocs.PNG(lines, 32)
	require.NoError(t, err)
	return b
}

func upload(t *testing.T, base string, body []byte, contentType, filename string) response {
	t.Helper()
	path := "/documents"
	if filename != "" {
		path += "?filename=" + filename
	}
	return call(t, base, http.MethodPost, path, body, http.Header{"Content-Type": {contentType}})
}

func uploadDoc(t *testing.T, body []byte) documents.Document {
	t.Helper()
	r := upload(t, stack.api.URL, body, "application/octet-stream", "scan-"+uuid.NewString()[:8]+".bin")
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, r.Status, "body: %s", r.Body)
	var d documents.Document
	r.decode(t, &d)
	return d
}

func TestDocumentUploadAndRead(t *testing.T) {
	lines := append([]string{"Upload test " + uuid.NewString()[:8]}, invoiceLines...)
	img := pngDoc(t, lines)
	name := "letter-" + uuid.NewString()[:8] + ".png"

	r := upload(t, stack.api.URL, img, "image/png", name)
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var d documents.Document
	r.decode(t, &d)
	require.Equal(t, "/documents/"+d.ID, r.Header.Get("Location"))
	require.Len(t, d.SHA256, 64)
	require.Equal(t, d.SHA256, d.ID)
	require.EqualValues(t, len(img), d.Size)
	require.Equal(t, "image/png", d.MediaType)
	require.Equal(t, name, d.Filename)
	require.Equal(t, 1, d.Pages)

	// The same bytes as a multipart form, under a misleading type: the same document.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, err := mw.CreateFormFile("file", "other-name.pdf")
	require.NoError(t, err)
	_, err = fw.Write(img)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	again := call(t, stack.api.URL, http.MethodPost, "/documents", form.Bytes(), http.Header{"Content-Type": {mw.FormDataContentType()}})
	require.Equal(t, http.StatusOK, again.Status, "body: %s", again.Body)
	var d2 documents.Document
	again.decode(t, &d2)
	require.Equal(t, d, d2)

	got := call(t, stack.api.URL, http.MethodGet, "/documents/"+d.ID, nil, nil)
	require.Equal(t, http.StatusOK, got.Status)
	content := call(t, stack.api.URL, http.MethodGet, "/documents/"+d.ID+"/content", nil, nil)
	require.Equal(t, http.StatusOK, content.Status)
	require.Equal(t, "image/png", content.Header.Get("Content-Type"))
	require.Equal(t, img, content.Body)

	var list api.DocumentList
	l := call(t, stack.api.URL, http.MethodGet, "/documents?search="+strings.ToUpper(name[:14]), nil, nil)
	require.Equal(t, http.StatusOK, l.Status)
	l.decode(t, &list)
	require.Len(t, list.Documents, 1)
	require.Equal(t, d.ID, list.Documents[0].ID)
}

func TestDocumentJobRequiresAnUploadedDocument(t *testing.T) {
	for body, field := range map[string]string{
		`{"type":"document","input":{}}`:                                                                            "input.document_id",
		`{"type":"document","input":{"document_id":"` + strings.Repeat("b", 64) + `"}}`:                             "input.document_id",
		`{"type":"document","input":{"document_id":"` + strings.Repeat("b", 64) + `","steps":["summarize"]}}`:       "input.steps",
		`{"type":"document","input":{"document_id":"` + strings.Repeat("b", 64) + `","language":"../etc"}}`:         "input.language",
		`{"type":"document","input":{"document_id":"` + strings.Repeat("b", 64) + `","summarize":{"max_words":1}}}`: "input.summarize.max_words",
	} {
		r := call(t, stack.api.URL, http.MethodPost, "/jobs", []byte(body), nil)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "body: %s", r.Body)
		require.Equal(t, field, r.problem(t).Field, body)
	}
}

type documentResult struct {
	Status job.Status         `json:"status"`
	Result job.DocumentResult `json:"result"`
}

func runDocumentJob(t *testing.T, base string, input map[string]any) (job.View, documentResult) {
	t.Helper()
	r := call(t, base, http.MethodPost, "/jobs", jsonBody(t, map[string]any{"type": job.TypeDocument, "input": input}), nil)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	v := r.view(t)
	res := waitResultAt(t, base, v.ID)
	var out documentResult
	if res.Status == http.StatusOK {
		res.decode(t, &out)
	}
	return call(t, base, http.MethodGet, "/jobs/"+v.ID, nil, nil).view(t), out
}

func TestDocumentJobEndToEnd(t *testing.T) {
	d := uploadDoc(t, pngDoc(t, invoiceLines))
	v, res := runDocumentJob(t, stack.api.URL, map[string]any{"document_id": d.ID})
	require.Equal(t, job.StatusSucceeded, v.Status, "view: %+v", v)
	require.Len(t, v.Steps, 3)
	for i, name := range job.DocumentSteps {
		require.Equal(t, name, v.Steps[i].Name)
		require.Equal(t, job.StatusSucceeded, v.Steps[i].Status)
		require.Equal(t, workerIdentity, v.Steps[i].Worker)
	}

	r := res.Result
	require.Equal(t, d.ID, r.DocumentID)
	require.Equal(t, 1, r.Pages)
	require.Len(t, r.PageTexts, 1)
	require.Equal(t, "ocr", r.PageTexts[0].Method)
	text := r.PageTexts[0].Text
	for _, want := range []string{"Invoice 4821", "Acme Trading", "billing@acme-trading.com", "1375.50"} {
		require.Contains(t, text, want)
	}
	labels := map[string]string{}
	for _, e := range r.Entities.Entities {
		labels[e.Label] = e.Text
		require.Equal(t, 1, e.Page)
		require.Equal(t, e.Text, string([]rune(text)[e.Start:e.End]), "offsets of %+v", e)
	}
	require.Equal(t, "billing@acme-trading.com", labels["EMAIL"])
	require.Contains(t, labels, "DATE")
	require.Contains(t, labels, "MONEY")
	require.Equal(t, "extractive", r.Summary.Method)
	require.NotEmpty(t, r.Summary.Text)
	require.Contains(t, r.TimingsMS, job.StepOCR)
	require.Contains(t, r.TimingsMS, job.StepSummarize)
}

// A PDF mixing a text-layer page and a scanned page, OCR only: each page
// is read the right way.
func TestDocumentJobMixedPDF(t *testing.T) {
	scan, err := testdocs.Render([]string{"Second page was scanned", "Reference 77120"}, 40)
	require.NoError(t, err)
	pdf := testdocs.PDF([]testdocs.Page{
		{Text: []string{"First page has a text layer " + uuid.NewString()[:8], "with enough characters to count as one."}},
		{Image: scan},
	})
	d := uploadDoc(t, pdf)
	require.Equal(t, 2, d.Pages)
	v, res := runDocumentJob(t, stack.api.URL, map[string]any{"document_id": d.ID, "steps": []string{"ocr"}})
	require.Equal(t, job.StatusSucceeded, v.Status)
	require.Len(t, v.Steps, 1)
	pages := res.Result.PageTexts
	require.Len(t, pages, 2)
	require.Equal(t, "text-layer", pages[0].Method)
	require.Contains(t, pages[0].Text, "First page has a text layer")
	require.Equal(t, "ocr", pages[1].Method)
	require.Contains(t, pages[1].Text, "77120")
	require.Nil(t, res.Result.Entities)
	require.Nil(t, res.Result.Summary)
}

// A large document's page texts are links, served by GET /jobs/{id}/pages/{n}.
func TestDocumentJobLargeTextIsLinked(t *testing.T) {
	var pages []testdocs.Page
	for i := range 40 {
		var lines []string
		for j := range 30 {
			lines = append(lines, fmt.Sprintf("Page %d line %d of a long contract with many clauses and terms.", i+1, j+1))
		}
		pages = append(pages, testdocs.Page{Text: lines})
	}
	d := uploadDoc(t, testdocs.PDF(pages))
	v, res := runDocumentJob(t, stack.api.URL, map[string]any{"document_id": d.ID, "steps": []string{"ocr"}})
	require.Equal(t, job.StatusSucceeded, v.Status)
	require.Len(t, res.Result.PageTexts, 40)
	p := res.Result.PageTexts[6]
	require.Empty(t, p.Text)
	require.Equal(t, fmt.Sprintf("/jobs/%s/pages/7", v.ID), p.URL)
	got := call(t, stack.api.URL, http.MethodGet, p.URL, nil, nil)
	require.Equal(t, http.StatusOK, got.Status)
	require.Contains(t, string(got.Body), "Page 7 line 30 of a long contract")
	require.Equal(t, p.Chars, len(got.Body))
}

// A document that can never be read fails the job once, not forever.
func TestBadDocumentFailsOnce(t *testing.T) {
	good := pngDoc(t, []string{"truncated " + uuid.NewString()})
	d := uploadDoc(t, good[:len(good)/2])
	v, _ := runDocumentJob(t, stack.api.URL, map[string]any{"document_id": d.ID})
	require.Equal(t, job.StatusFailed, v.Status)
	require.Equal(t, job.FailUnreadableDocument, v.Error.Type)
	require.False(t, v.Error.Retryable)
	require.Len(t, v.Steps, 1)
	// One attempt at most: 1 when the worker's step event reached the
	// workflow before the failure did, 0 (unknown) when it did not.
	require.LessOrEqual(t, v.Steps[0].Attempt, int32(1), "the step was not retried")
}

// chatServer speaks the Chat Completions wire format, as an OpenAI-compatible
// endpoint would.
func chatServer(t *testing.T, failFirst int) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer test-key" {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		var req struct {
			Model          string          `json:"model"`
			ResponseFormat json.RawMessage `json:"response_format"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &req)
		if int(n) <= failFirst {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"message":"rate limited","type":"rate_limit"}}`)
			return
		}
		content := "Acme Trading Ltd invoices 1375.50 euros, due soon."
		if len(req.ResponseFormat) > 0 {
			content = `{"entities":[{"label":"ORG","text":"Acme Trading Ltd"}]}`
		}
		c, _ := json.Marshal(content)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":%q,
"choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],
"usage":{"prompt_tokens":120,"completion_tokens":14,"total_tokens":134}}`, req.Model, c)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// With an LLM configured, the summary comes from it (after a rate-limited
// first attempt that Temporal retries), with its token usage.
func TestDocumentJobWithLLM(t *testing.T) {
	chat, calls := chatServer(t, 1)
	model, err := llm.New(llm.Config{BaseURL: chat.URL + "/v1", Model: "test-model", APIKey: "test-key"}, nil)
	require.NoError(t, err)
	queue := "docket-api-test-llm"
	w, err := teststack.StartWorker(stack.server.Client(), teststack.WorkerOptions{
		TaskQueue: queue, Identity: "llm-worker", Docs: stack.docs, LLM: model,
	})
	require.NoError(t, err)
	defer w.Stop()
	srv := teststack.StartAPI(stack.server.Client(), queue, stack.docs)
	defer srv.Close()

	d := uploadDoc(t, pngDoc(t, invoiceLines))
	v, res := runDocumentJob(t, srv.URL, map[string]any{"document_id": d.ID, "steps": []string{"ocr", "summarize"}, "summarize": map[string]any{"max_words": 40}})
	require.Equal(t, job.StatusSucceeded, v.Status, "view: %+v", v)
	s := res.Result.Summary
	require.Equal(t, "llm", s.Method)
	require.Equal(t, "test-model", s.Model)
	require.Equal(t, "Acme Trading Ltd invoices 1375.50 euros, due soon.", s.Text)
	require.Equal(t, &job.Usage{PromptTokens: 120, CompletionTokens: 14, TotalTokens: 134}, s.Usage)
	require.EqualValues(t, 2, v.Steps[1].Attempt, "the 429 was retried by Temporal")
	require.EqualValues(t, 2, calls.Load(), "one request per attempt: the client library does not retry by itself")
}

// Canceling a document job stops its OCR step: the job ends CANCELED
// before reading every page.
func TestCancelDocumentJob(t *testing.T) {
	var pages []testdocs.Page
	for i := range 12 {
		img, err := testdocs.Render([]string{fmt.Sprintf("Cancel test page %d %s", i+1, uuid.NewString()[:8]), "Lorem ipsum dolor sit amet."}, 40)
		require.NoError(t, err)
		pages = append(pages, testdocs.Page{Image: img})
	}
	d := uploadDoc(t, testdocs.PDF(pages))
	r := call(t, stack.api.URL, http.MethodPost, "/jobs", jsonBody(t, map[string]any{"type": job.TypeDocument, "input": map[string]any{"document_id": d.ID}}), nil)
	require.Equal(t, http.StatusAccepted, r.Status)
	id := r.view(t).ID
	running := waitFor(t, stack.api.URL, id, func(v job.View) bool {
		return v.Status == job.StatusRunning && len(v.Steps) > 0 && v.Steps[0].Progress != nil && v.Steps[0].Progress.Total == 12
	})
	require.Equal(t, job.StepOCR, running.Steps[0].Name)

	require.Equal(t, http.StatusAccepted, call(t, stack.api.URL, http.MethodDelete, "/jobs/"+id, nil, nil).Status)
	res := waitResult(t, id)
	require.Equal(t, string(job.StatusCanceled), res.problem(t).JobStatus)
	v := call(t, stack.api.URL, http.MethodGet, "/jobs/"+id, nil, nil).view(t)
	require.Equal(t, job.StatusCanceled, v.Steps[0].Status)
	require.Len(t, v.Steps, 1, "no later step ran")
}
