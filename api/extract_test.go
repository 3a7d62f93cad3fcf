package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/llm"
	"github.com/docket-dev/docket/tools/teststack"
)

const extractSchema = `{"type":"object","properties":{"vendor":{"type":"string"}},"required":["vendor"]}`

func TestExtractJobRejectsInvalidInput(t *testing.T) {
	id := strings.Repeat("b", 64)
	for body, field := range map[string]string{
		`{"type":"extract","input":{"document_id":"` + id + `","schema":{"type":"objekt"}}}`:     "input.schema",
		`{"type":"extract","input":{"document_id":"` + id + `"}}`:                                "input.schema",
		`{"type":"extract","input":{"document_id":"` + id + `","schema":` + extractSchema + `}}`: "input.document_id",
		`{"type":"extract","input":{"document_id":"` + id + `","schema":{"minLength":"three"}}}`: "input.schema",
	} {
		r := call(t, stack.api.URL, http.MethodPost, "/jobs", []byte(body), nil)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "body: %s", r.Body)
		require.Equal(t, field, r.problem(t).Field, body)
	}
}

// extractStack is a worker with an LLM (a local Chat Completions server
// speaking the real wire format) and an API in front of it, on their own
// task queue.
type extractStack struct {
	queue, api string
	// calls counts the chat server's requests; the first answers 429 with
	// Retry-After unless calls starts above 0.
	calls *atomic.Int32
}

func startExtractStack(t *testing.T) extractStack {
	t.Helper()
	calls := &atomic.Int32{}
	chat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		var req struct {
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		w.Header().Set("Content-Type", "application/json")
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"message":"rate limited","type":"rate_limit"}}`)
			return
		}
		content := `{"vendor":"Acme Trading Ltd"}`
		if strings.Contains(req.Messages[0].Content, "NEVER CONFORM") {
			content = `{"vendor":42}`
		}
		c, _ := json.Marshal(content)
		fmt.Fprintf(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"test-model",
"choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],
"usage":{"prompt_tokens":120,"completion_tokens":14,"total_tokens":134}}`, c)
	}))
	t.Cleanup(chat.Close)
	model, err := llm.New(llm.Config{BaseURL: chat.URL + "/v1", Model: "test-model"}, nil)
	require.NoError(t, err)
	queue := "docket-api-test-extract-" + strings.ReplaceAll(t.Name(), "/", "-")
	w, err := teststack.StartWorker(stack.server.Client(), teststack.WorkerOptions{
		TaskQueue: queue, Identity: "extract-worker", Docs: stack.docs, LLM: model,
	})
	require.NoError(t, err)
	t.Cleanup(w.Stop)
	srv := teststack.StartAPI(stack.server.Client(), queue, stack.docs)
	t.Cleanup(srv.Close)
	return extractStack{queue: queue, api: srv.URL, calls: calls}
}

// An extract job end to end: OCR, then the LLM, rate-limited on its first
// attempt (Temporal retries, the client does not); and a model whose
// answers never conform fails the job once as invalid_llm_output.
func TestExtractJobWithLLM(t *testing.T) {
	es := startExtractStack(t)
	srv, calls := es, es.calls
	d := uploadDoc(t, pngDoc(t, invoiceLines))
	run := func(instructions string) (job.View, response) {
		r := call(t, srv.api, http.MethodPost, "/jobs", []byte(`{"type":"extract","input":{"document_id":"`+d.ID+`","schema":`+extractSchema+`,"instructions":"`+instructions+`"}}`), nil)
		require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
		id := r.view(t).ID
		res := waitResultAt(t, srv.api, id)
		return call(t, srv.api, http.MethodGet, "/jobs/"+id, nil, nil).view(t), res
	}

	v, res := run("Name the vendor.")
	require.Equal(t, job.StatusSucceeded, v.Status, "view: %+v", v)
	var out struct {
		Type   string            `json:"type"`
		Result job.ExtractResult `json:"result"`
	}
	res.decode(t, &out)
	require.Equal(t, job.TypeExtract, out.Type)
	require.JSONEq(t, `{"vendor":"Acme Trading Ltd"}`, string(out.Result.Data))
	require.Equal(t, d.ID, out.Result.DocumentID)
	require.Equal(t, "test-model", out.Result.Model)
	require.Equal(t, 1, out.Result.Pages)
	require.Equal(t, &job.Usage{PromptTokens: 120, CompletionTokens: 14, TotalTokens: 134}, out.Result.Usage)
	require.Len(t, v.Steps, 2)
	require.Equal(t, job.StepExtract, v.Steps[1].Name)
	require.EqualValues(t, 2, v.Steps[1].Attempt, "the 429 was retried by Temporal")
	require.EqualValues(t, 2, calls.Load(), "one request per attempt: the client library does not retry by itself")

	calls.Store(1) // no more 429s
	v, _ = run("NEVER CONFORM")
	require.Equal(t, job.StatusFailed, v.Status, "view: %+v", v)
	require.Equal(t, job.FailInvalidLLMOutput, v.Error.Type)
	require.False(t, v.Error.Retryable)
	require.Contains(t, v.Error.Message, "/vendor")
	require.LessOrEqual(t, v.Steps[1].Attempt, int32(1), "a non-conforming answer is not retried")
	// Two requests in all: one attempt (a retry would ask twice more).
	require.EqualValues(t, 3, calls.Load(), "exactly two requests")
}
