package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docket-dev/docket/entities"
	"github.com/docket-dev/docket/llm"
	"github.com/stretchr/testify/require"
)

// request is what the fake endpoint received.
type request struct {
	method, path, auth string
	body               map[string]any
}

// fake is a Chat Completions endpoint on loopback that records every
// request and answers with respond.
type fake struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []request
	respond func(w http.ResponseWriter, r *http.Request)
}

func newFake(t *testing.T, respond func(w http.ResponseWriter, r *http.Request)) *fake {
	f := &fake{t: t, respond: respond}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		var body map[string]any
		require.NoError(t, json.Unmarshal(raw, &body), "request body %s", raw)
		f.mu.Lock()
		f.reqs = append(f.reqs, request{r.Method, r.URL.Path, r.Header.Get("Authorization"), body})
		f.mu.Unlock()
		f.respond(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

// client returns a client for the fake with a short timeout.
func (f *fake) client(t *testing.T, mod ...func(*llm.Config)) *llm.Client {
	cfg := llm.Config{BaseURL: f.srv.URL + "/v1", Model: "test-model", APIKey: "sk-test", Timeout: 200 * time.Millisecond}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := llm.New(cfg, f.srv.Client())
	require.NoError(t, err)
	require.True(t, c.Configured())
	return c
}

// completion is an answer in the wire format OpenAI sends.
func completion(content string) string {
	b, _ := json.Marshal(map[string]any{
		"id":      "chatcmpl-123",
		"object":  "chat.completion",
		"created": 1717000000,
		"model":   "test-model-2024-06",
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": content, "refusal": nil},
			"logprobs":      nil,
			"finish_reason": "stop",
		}},
		"usage": map[string]any{"prompt_tokens": 120, "completion_tokens": 35, "total_tokens": 155},
	})
	return string(b)
}

func answer(status int, body string, headers ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func messages(t *testing.T, r request) []map[string]any {
	t.Helper()
	raw, ok := r.body["messages"].([]any)
	require.True(t, ok, "messages: %v", r.body)
	var out []map[string]any
	for _, m := range raw {
		out = append(out, m.(map[string]any))
	}
	return out
}

func TestSummarize(t *testing.T) {
	f := newFake(t, answer(200, completion("ACME invoices Globex EUR 1,234.50, due 15 March 2024.")))
	c := f.client(t)
	doc := "Invoice 42 from ACME to Globex.\nTotal EUR 1,234.50, due 15 March 2024."
	s, err := c.Summarize(context.Background(), doc, 40)
	require.NoError(t, err)
	require.Equal(t, llm.Summary{
		Text:   "ACME invoices Globex EUR 1,234.50, due 15 March 2024.",
		Method: "llm",
		Model:  "test-model-2024-06",
		Usage:  &llm.Usage{PromptTokens: 120, CompletionTokens: 35, TotalTokens: 155},
	}, s)

	reqs := f.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, http.MethodPost, r.method)
	require.Equal(t, "/v1/chat/completions", r.path)
	require.Equal(t, "Bearer sk-test", r.auth)
	require.Equal(t, "test-model", r.body["model"])
	require.EqualValues(t, 40*2+64, r.body["max_tokens"])
	require.EqualValues(t, 0, r.body["temperature"])
	require.NotContains(t, r.body, "response_format")
	ms := messages(t, r)
	require.Len(t, ms, 2)
	require.Equal(t, "system", ms[0]["role"])
	require.Contains(t, ms[0]["content"], "at most 40 words")
	require.Equal(t, "user", ms[1]["role"])
	require.Contains(t, ms[1]["content"], doc)

	out, err := json.Marshal(s)
	require.NoError(t, err)
	require.JSONEq(t, `{"text":"ACME invoices Globex EUR 1,234.50, due 15 March 2024.","method":"llm","model":"test-model-2024-06",
		"usage":{"prompt_tokens":120,"completion_tokens":35,"total_tokens":155}}`, string(out))
}

func TestSummarizeWithoutUsage(t *testing.T) {
	// llama.cpp and others may leave usage out.
	f := newFake(t, answer(200, `{"id":"x","object":"chat.completion","created":1,"model":"local",
		"choices":[{"index":0,"message":{"role":"assistant","content":"A summary."},"finish_reason":"stop"}]}`))
	s, err := f.client(t).Summarize(context.Background(), "Some text to summarise.", 10)
	require.NoError(t, err)
	require.Nil(t, s.Usage)
	require.Equal(t, "A summary.", s.Text)
}

func TestSummaryCutToMaxWords(t *testing.T) {
	long := strings.Repeat("word ", 30) + "end."
	f := newFake(t, answer(200, completion(long)))
	s, err := f.client(t).Summarize(context.Background(), "Some text to summarise.", 10)
	require.NoError(t, err)
	require.Len(t, strings.Fields(s.Text), 10)
	require.True(t, strings.HasSuffix(s.Text, "…"))
}

func TestLongInputIsTruncated(t *testing.T) {
	tests := []struct {
		name      string
		doc       string
		truncated bool
		// sent is how many "abcdefghi" the request carries.
		sent int
	}{
		{"500 characters", strings.Repeat("abcdefghi ", 50), true, 10}, // 100 characters, cut at a space
		{"exactly 100 characters", strings.Repeat("abcdefghi ", 10), false, 10},
		{"30 characters", strings.Repeat("abcdefghi ", 3), false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, answer(200, completion("Short.")))
			c := f.client(t, func(c *llm.Config) { c.MaxInputChars = 100 })
			s, err := c.Summarize(context.Background(), tt.doc, 10)
			require.NoError(t, err)
			require.Equal(t, tt.truncated, s.Truncated)
			user := messages(t, f.requests()[0])[1]["content"].(string)
			if tt.truncated {
				require.Contains(t, user, "cut off after 100 characters")
			} else {
				require.NotContains(t, user, "cut off")
			}
			require.Equal(t, tt.sent, strings.Count(user, "abcdefghi"))
		})
	}
}

func TestOpenAIUsesMaxCompletionTokens(t *testing.T) {
	f := newFake(t, answer(200, completion("Fine.")))
	// Route api.openai.com to the fake: the client must pick the
	// parameters OpenAI's current models accept, without leaving loopback.
	target, err := url.Parse(f.srv.URL)
	require.NoError(t, err)
	hc := &http.Client{Transport: rewrite{target: target, next: f.srv.Client().Transport}}
	c, err := llm.New(llm.Config{BaseURL: "https://api.openai.com/v1", Model: "gpt-test", APIKey: "sk-test"}, hc)
	require.NoError(t, err)
	_, err = c.Summarize(context.Background(), "Some text.", 20)
	require.NoError(t, err)
	r := f.requests()[0]
	require.EqualValues(t, 20*2+64, r.body["max_completion_tokens"])
	require.NotContains(t, r.body, "max_tokens")
	require.NotContains(t, r.body, "temperature")
}

type rewrite struct {
	target *url.URL
	next   http.RoundTripper
}

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = rw.target.Scheme, rw.target.Host
	return rw.next.RoundTrip(r)
}

func TestEnvironmentIsIgnored(t *testing.T) {
	// The library's environment defaults must not leak an OpenAI key to
	// another endpoint or redirect requests.
	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	f := newFake(t, answer(200, completion("Fine.")))
	c := f.client(t, func(c *llm.Config) { c.APIKey = "" })
	_, err := c.Summarize(context.Background(), "Some text.", 20)
	require.NoError(t, err)
	reqs := f.requests()
	require.Len(t, reqs, 1)
	require.Empty(t, reqs[0].auth)
}

func TestErrorClassification(t *testing.T) {
	date := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	apiErr := `{"error":{"message":"%s","type":"invalid_request_error","param":null,"code":null}}`
	tests := []struct {
		name       string
		status     int
		body       string
		headers    []string
		retryable  bool
		retryAfter func(time.Duration) bool
	}{
		{"429 seconds", 429, fmt.Sprintf(apiErr, "Rate limit reached"), []string{"Retry-After", "7"}, true, func(d time.Duration) bool { return d == 7*time.Second }},
		{"429 date", 429, fmt.Sprintf(apiErr, "Rate limit reached"), []string{"Retry-After", date}, true, func(d time.Duration) bool { return d > 20*time.Second && d <= 30*time.Second }},
		{"429 capped", 429, fmt.Sprintf(apiErr, "Rate limit reached"), []string{"Retry-After", "86400"}, true, func(d time.Duration) bool { return d == llm.MaxRetryAfter }},
		{"429 without header", 429, fmt.Sprintf(apiErr, "Rate limit reached"), nil, true, func(d time.Duration) bool { return d == 0 }},
		{"500", 500, fmt.Sprintf(apiErr, "The server had an error"), nil, true, nil},
		{"503 with retry", 503, fmt.Sprintf(apiErr, "Overloaded"), []string{"Retry-After", "2"}, true, func(d time.Duration) bool { return d == 2*time.Second }},
		{"502 from a proxy", 502, "<html>Bad Gateway</html>", []string{"Content-Type", "text/html"}, true, nil},
		{"400", 400, fmt.Sprintf(apiErr, "Invalid parameter"), nil, false, nil},
		{"401", 401, fmt.Sprintf(apiErr, "Incorrect API key provided"), nil, false, nil},
		{"403", 403, fmt.Sprintf(apiErr, "Forbidden"), nil, false, nil},
		{"404", 404, fmt.Sprintf(apiErr, "The model does not exist"), nil, false, nil},
		{"422", 422, `{"detail":"unprocessable"}`, nil, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, answer(tt.status, tt.body, tt.headers...))
			_, err := f.client(t).Summarize(context.Background(), "Some text.", 20)
			var ae *llm.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tt.status, ae.Status)
			require.Equal(t, tt.retryable, ae.Retryable)
			if tt.retryAfter != nil {
				require.True(t, tt.retryAfter(ae.RetryAfter), "RetryAfter %s", ae.RetryAfter)
			}
			require.NotEmpty(t, ae.Msg)
			require.NotContains(t, err.Error(), "sk-test")
			require.Len(t, f.requests(), 1, "no retries inside the client")
		})
	}
}

func TestMalformedAnswers(t *testing.T) {
	tests := []struct{ name, body string }{
		{"not JSON", `{"id":"x","choices":[{"index":0,`},
		{"no choices", `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[]}`},
		{"empty content", completion("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, answer(200, tt.body))
			_, err := f.client(t).Summarize(context.Background(), "Some text.", 20)
			var ae *llm.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, 200, ae.Status)
			require.True(t, ae.Retryable)
			require.Len(t, f.requests(), 1)
		})
	}
}

func TestTimeout(t *testing.T) {
	// The handler answers only when the client gives up, so the test
	// takes Timeout (200ms) and no longer.
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	_, err := f.client(t).Summarize(context.Background(), "Some text.", 20)
	var ae *llm.APIError
	require.ErrorAs(t, err, &ae)
	require.True(t, ae.Timeout)
	require.True(t, ae.Retryable)
	require.Zero(t, ae.Status)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Len(t, f.requests(), 1)
}

func TestCallerCancellation(t *testing.T) {
	arrived := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	})
	c := f.client(t, func(c *llm.Config) { c.Timeout = time.Minute })
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := c.Summarize(ctx, "Some text.", 20)
	require.ErrorIs(t, err, context.Canceled)
	var ae *llm.APIError
	require.False(t, errors.As(err, &ae), "a cancelled call is not an endpoint failure")
}

func TestConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	c, err := llm.New(llm.Config{BaseURL: base + "/v1", Model: "m", Timeout: 5 * time.Second}, nil)
	require.NoError(t, err)
	_, err = c.Summarize(context.Background(), "Some text.", 20)
	var ae *llm.APIError
	require.ErrorAs(t, err, &ae)
	require.Zero(t, ae.Status)
	require.True(t, ae.Retryable)
}

func TestEntities(t *testing.T) {
	text := "Dear Mr. Smith,\nAnna Schmidt of Deutsche Bank in Frankfurt confirmed it. Anna will call."
	content := `{"entities":[
		{"label":"PERSON","text":"Smith"},
		{"label":"PERSON","text":"Anna Schmidt"},
		{"label":"PERSON","text":"Anna"},
		{"label":"ORGANIZATION","text":"Deutsche Bank"},
		{"label":"GPE","text":"Frankfurt"},
		{"label":"PLACE","text":"Berlin"},
		{"label":"DATE","text":"today"},
		{"label":"ORG","text":"Deutsche Bank"}]}`
	f := newFake(t, answer(200, completion(content)))
	got, err := f.client(t).Entities(context.Background(), 3, text)
	require.NoError(t, err)
	e := func(label, s string, start int) entities.Entity {
		return entities.Entity{Label: label, Text: s, Page: 3, Start: start, End: start + len(s), Source: "llm"}
	}
	at := func(s string) int { return strings.Index(text, s) } // the text is ASCII
	// Berlin is not in the text and DATE is not asked for; the first "Anna"
	// is inside "Anna Schmidt", the second stands alone.
	require.Equal(t, []entities.Entity{
		e("PERSON", "Smith", at("Smith")),
		e("PERSON", "Anna Schmidt", at("Anna Schmidt")),
		e("ORG", "Deutsche Bank", at("Deutsche")),
		e("PLACE", "Frankfurt", at("Frankfurt")),
		e("PERSON", "Anna", strings.LastIndex(text, "Anna")),
	}, got)

	r := f.requests()
	require.Len(t, r, 1)
	require.Equal(t, map[string]any{"type": "json_object"}, r[0].body["response_format"])
	ms := messages(t, r[0])
	require.Contains(t, ms[0]["content"], "JSON")
	require.Equal(t, text, ms[1]["content"])
}

func TestEntitiesAnswerFormats(t *testing.T) {
	text := "Globex Inc. of Chicago"
	tests := []struct {
		name, content string
		want          int
	}{
		{"fenced", "```json\n{\"entities\":[{\"label\":\"ORG\",\"text\":\"Globex Inc.\"}]}\n```", 1},
		{"bare array", `[{"label":"ORG","text":"Globex Inc."},{"label":"LOC","text":"Chicago"}]`, 2},
		{"none", `{"entities":[]}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, answer(200, completion(tt.content)))
			got, err := f.client(t).Entities(context.Background(), 1, text)
			require.NoError(t, err)
			require.Len(t, got, tt.want)
		})
	}

	f := newFake(t, answer(200, completion(`{"entities":[{"label":"ORG","text":`)))
	_, err := f.client(t).Entities(context.Background(), 1, text)
	var ae *llm.APIError
	require.ErrorAs(t, err, &ae)
	require.True(t, ae.Retryable, "a model may answer well next time")
	require.Equal(t, 200, ae.Status)
	require.Len(t, f.requests(), 1)
}

func TestUnconfigured(t *testing.T) {
	c, err := llm.New(llm.Config{Model: "ignored"}, nil)
	require.NoError(t, err)
	require.False(t, c.Configured())
	s, err := c.Summarize(context.Background(), sampleLetter, 40)
	require.NoError(t, err)
	require.Equal(t, llm.Extractive(sampleLetter, 40), s)
	require.Equal(t, "extractive", s.Method)
	_, err = c.Entities(context.Background(), 1, sampleLetter)
	require.ErrorIs(t, err, llm.ErrNotConfigured)

	for _, cfg := range []llm.Config{
		{BaseURL: "ftp://example.org", Model: "m"},
		{BaseURL: "localhost:11434", Model: "m"},
		{BaseURL: "http://localhost:11434/v1"},
		{BaseURL: "http://localhost:11434/v1", Model: "m", Timeout: -time.Second},
	} {
		_, err := llm.New(cfg, nil)
		require.Error(t, err, "%+v", cfg)
	}
}

// The summary length is the caller's to give (the job model keeps the one
// default): a length below one word is refused before any request is made.
func TestSummarizeNeedsALength(t *testing.T) {
	for _, words := range []int{0, -5} {
		t.Run(fmt.Sprint(words), func(t *testing.T) {
			f := newFake(t, answer(200, completion("Never asked.")))
			_, err := f.client(t).Summarize(context.Background(), "Some text.", words)
			require.ErrorContains(t, err, "want at least 1 word")
			require.Empty(t, f.requests())
		})
	}
}
