package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/docket-dev/docket/activities"
	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/llm"
	"github.com/docket-dev/docket/steps"
)

// chatRequest is the part of a Chat Completions request the tests look at.
type chatRequest struct {
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	ResponseFormat struct {
		Type       string `json:"type"`
		JSONSchema struct {
			Name   string         `json:"name"`
			Strict *bool          `json:"strict"`
			Schema map[string]any `json:"schema"`
		} `json:"json_schema"`
	} `json:"response_format"`
}

// scriptedChat answers the n-th request (from 1) as answer says: an HTTP
// status other than 200 is sent with an OpenAI error body (and Retry-After
// for 429); 200 with content as the assistant's message, in the real wire
// format. It records every request.
func scriptedChat(t *testing.T, answer func(n int, req chatRequest) (int, string)) (*httptest.Server, func() []chatRequest) {
	t.Helper()
	var mu sync.Mutex
	var reqs []chatRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req chatRequest
		if r.URL.Path != "/v1/chat/completions" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		mu.Lock()
		reqs = append(reqs, req)
		n := len(reqs)
		mu.Unlock()
		status, content := answer(n, req)
		w.Header().Set("Content-Type", "application/json")
		if status != http.StatusOK {
			if status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":{"message":%q,"type":"invalid_request_error"}}`, content)
			return
		}
		c, _ := json.Marshal(content)
		fmt.Fprintf(w, `{"id":"chatcmpl-%d","object":"chat.completion","created":1700000000,"model":"test-model",
"choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],
"usage":{"prompt_tokens":100,"completion_tokens":10,"total_tokens":110}}`, n, c)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []chatRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]chatRequest(nil), reqs...)
	}
}

const invoiceSchema = `{"type":"object","properties":{"invoice_number":{"type":"string"},"total":{"type":"number"}},"required":["invoice_number","total"],"additionalProperties":false}`

func extractActivities(t *testing.T, srv *httptest.Server, maxInput int) (*activities.DocumentActivities, job.ExtractTextInput) {
	t.Helper()
	a, store := docActivities(t)
	if srv != nil {
		model, err := llm.New(llm.Config{BaseURL: srv.URL + "/v1", Model: "test-model", MaxInputChars: maxInput}, srv.Client())
		require.NoError(t, err)
		a.LLM = model
	}
	jobID := "extract-" + strings.ReplaceAll(t.Name(), "/", "-")
	require.NoError(t, store.PutText(context.Background(), documents.PageKey(jobID, 1), "INVOICE 2025-0142\nACME GmbH"))
	require.NoError(t, store.PutText(context.Background(), documents.PageKey(jobID, 2), "Total due: EUR 4760.00"))
	return a, job.ExtractTextInput{
		TextInput:  job.TextInput{JobID: jobID, Pages: 2},
		DocumentID: strings.Repeat("a", 64), Schema: json.RawMessage(invoiceSchema), Instructions: "Totals as numbers.",
	}
}

func runExtract(t *testing.T, a *activities.DocumentActivities, in job.ExtractTextInput) (job.ExtractResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(a.Extract, activity.RegisterOptions{Name: steps.Extract.Name})
	v, err := env.ExecuteActivity(steps.Extract.Name, in)
	if err != nil {
		return job.ExtractResult{}, err
	}
	var out job.StepOutput[job.ExtractResult]
	require.NoError(t, v.Get(&out))
	require.Equal(t, "doc-test", out.Report.Worker)
	return out.Result, nil
}

func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "error %v", err)
	return appErr
}

const goodAnswer = `{"invoice_number":"2025-0142","total":4760}`

func TestExtractConformingAnswer(t *testing.T) {
	srv, reqs := scriptedChat(t, func(int, chatRequest) (int, string) { return http.StatusOK, "```json\n" + goodAnswer + "\n```" })
	a, in := extractActivities(t, srv, 0)
	res, err := runExtract(t, a, in)
	require.NoError(t, err)
	require.JSONEq(t, goodAnswer, string(res.Data))
	require.Equal(t, "test-model", res.Model)
	require.Equal(t, 2, res.Pages)
	require.Equal(t, in.DocumentID, res.DocumentID)
	require.False(t, res.Truncated)
	require.Equal(t, &job.Usage{PromptTokens: 100, CompletionTokens: 10, TotalTokens: 110}, res.Usage)
	got := reqs()
	require.Len(t, got, 1)
	rf := got[0].ResponseFormat
	require.Equal(t, "json_schema", rf.Type)
	require.NotNil(t, rf.JSONSchema.Strict)
	require.False(t, *rf.JSONSchema.Strict)
	require.Equal(t, []any{"invoice_number", "total"}, rf.JSONSchema.Schema["required"])
	require.Contains(t, got[0].Messages[0].Content, "Totals as numbers.")
	require.Contains(t, got[0].Messages[1].Content, "Total due: EUR 4760.00")
}

func TestExtractAsksOnceMoreWithTheValidationErrors(t *testing.T) {
	srv, reqs := scriptedChat(t, func(n int, _ chatRequest) (int, string) {
		if n == 1 {
			return http.StatusOK, `{"invoice_number":"2025-0142","total":"4760.00"}`
		}
		return http.StatusOK, goodAnswer
	})
	a, in := extractActivities(t, srv, 0)
	res, err := runExtract(t, a, in)
	require.NoError(t, err)
	require.JSONEq(t, goodAnswer, string(res.Data))
	require.Equal(t, &job.Usage{PromptTokens: 200, CompletionTokens: 20, TotalTokens: 220}, res.Usage, "usage of both requests")
	got := reqs()
	require.Len(t, got, 2)
	second := got[1].Messages
	require.Len(t, second, 4)
	require.Equal(t, "assistant", second[2].Role)
	require.Equal(t, "user", second[3].Role)
	require.Contains(t, second[3].Content, "/total")
	require.Contains(t, second[3].Content, "want number")
}

func TestExtractTwiceNonConformingFailsOnce(t *testing.T) {
	srv, reqs := scriptedChat(t, func(n int, _ chatRequest) (int, string) {
		return http.StatusOK, `{"invoice_number":2025}`
	})
	a, in := extractActivities(t, srv, 0)
	_, err := runExtract(t, a, in)
	appErr := appError(t, err)
	require.Equal(t, string(job.FailInvalidLLMOutput), appErr.Type())
	require.True(t, appErr.NonRetryable())
	require.Contains(t, appErr.Error(), "/invoice_number")
	require.Contains(t, appErr.Error(), "total")
	require.Len(t, reqs(), 2)
	require.Contains(t, steps.Extract.Retry.NonRetryableErrorTypes, string(job.FailInvalidLLMOutput))
}

// A 429 with Retry-After is a retryable failure that asks Temporal to wait
// that long; the client itself makes one request and no retry.
func TestExtractRateLimitedIsRetriedByTemporal(t *testing.T) {
	srv, reqs := scriptedChat(t, func(int, chatRequest) (int, string) { return http.StatusTooManyRequests, "rate limited" })
	a, in := extractActivities(t, srv, 0)
	_, err := runExtract(t, a, in)
	appErr := appError(t, err)
	require.Equal(t, string(job.FailLLMUnavailable), appErr.Type())
	require.False(t, appErr.NonRetryable())
	require.Equal(t, time.Second, appErr.NextRetryDelay())
	require.Len(t, reqs(), 1)
}

// An endpoint that refuses json_schema with 400 is asked again in JSON mode.
func TestExtractFallsBackToJSONMode(t *testing.T) {
	srv, reqs := scriptedChat(t, func(_ int, req chatRequest) (int, string) {
		if req.ResponseFormat.Type == "json_schema" {
			return http.StatusBadRequest, "response_format json_schema is not supported"
		}
		return http.StatusOK, goodAnswer
	})
	a, in := extractActivities(t, srv, 0)
	res, err := runExtract(t, a, in)
	require.NoError(t, err)
	require.JSONEq(t, goodAnswer, string(res.Data))
	got := reqs()
	require.Len(t, got, 2)
	require.Equal(t, "json_object", got[1].ResponseFormat.Type)
	require.Contains(t, got[1].Messages[0].Content, `"invoice_number"`, "the schema is in the prompt")
}

func TestExtractWithoutLLMFailsAtOnce(t *testing.T) {
	srv, reqs := scriptedChat(t, func(int, chatRequest) (int, string) { return http.StatusOK, goodAnswer })
	a, in := extractActivities(t, nil, 0)
	_ = srv
	_, err := runExtract(t, a, in)
	appErr := appError(t, err)
	require.Equal(t, string(job.FailLLMNotConfigured), appErr.Type())
	require.True(t, appErr.NonRetryable())
	require.Contains(t, appErr.Error(), "DOCKET_LLM_BASE_URL")
	require.Empty(t, reqs())
}

func TestExtractReportsTruncation(t *testing.T) {
	srv, reqs := scriptedChat(t, func(int, chatRequest) (int, string) { return http.StatusOK, goodAnswer })
	a, in := extractActivities(t, srv, 20)
	res, err := runExtract(t, a, in)
	require.NoError(t, err)
	require.True(t, res.Truncated)
	require.NotContains(t, reqs()[0].Messages[1].Content, "4760.00")
}
