package metricstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/auth"
	"github.com/docket-dev/docket/tools/testdocs"
	"github.com/docket-dev/docket/tools/teststack"
)

// stack is a real Docket on loopback: a dev server with its metrics port,
// the worker and API binaries with DOCKET_METRICS_ADDR, and the keys the
// API takes.
type stack struct {
	t   *testing.T
	dir string
	// api is the API's base URL; apiMetrics, workerMetrics and
	// temporalMetrics the host:port of the metrics listeners.
	api, apiMetrics, workerMetrics, temporalMetrics string
	// jobsKey may start and read jobs and documents; metricsKey only
	// read GET /metrics; throttledKey allows one request per 100 s.
	jobsKey, metricsKey, throttledKey string
	// secrets are every key's secret, which no label may carry.
	secrets []string
}

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startStack builds the binaries and starts everything; cleanup stops it.
func startStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{t: t, dir: t.TempDir()}
	root := repoRoot(t)
	bins := map[string]string{}
	for name, pkg := range map[string]string{"worker": "./worker", "docket-api": "./api/cmd/docket-api"} {
		bins[name] = filepath.Join(s.dir, name)
		cmd := exec.Command("go", "build", "-o", bins[name], pkg)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go build %s: %s", pkg, out)
	}

	metricsPort := freePort(t)
	srv, err := teststack.StartServerWith(context.Background(), teststack.ServerOptions{
		Fairness: true, MetricsPort: metricsPort,
		// The backlog gauges (approximate_backlog_count and _age_seconds)
		// are emitted when matching updates a queue's ack level, every
		// minute by default.
		ExtraDynamicConfig: []string{`matching.updateAckInterval="1s"`},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	s.temporalMetrics = fmt.Sprintf("127.0.0.1:%d", metricsPort)

	s.writeKeys()
	chat := chatServer(t)
	queue := fmt.Sprintf("docket-metrics-%d", time.Now().UnixNano())
	s.apiMetrics = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.workerMetrics = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	apiAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.api = "http://" + apiAddr
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"TEMPORAL_ADDRESS=" + srv.Address(), "TEMPORAL_NAMESPACE=default",
		"DOCKET_TASK_QUEUE=" + queue,
		"DOCKET_DATA_DIR=" + filepath.Join(s.dir, "data"),
		"DOCKET_ENCRYPTION_KEYS_FILE=" + teststack.RingFile(),
		"DOCKET_LOG_LEVEL=warn",
	}
	s.start("worker", bins["worker"], nil, append(env,
		"DOCKET_METRICS_ADDR="+s.workerMetrics,
		"DOCKET_FETCH_ALLOW_HOSTS=127.0.0.1",
		"DOCKET_OCR_PARALLELISM=1",
		"DOCKET_WORKER_STOP_TIMEOUT=2s",
		"DOCKET_LLM_BASE_URL="+chat.URL+"/v1",
		"DOCKET_LLM_MODEL=test-model",
		"DOCKET_LLM_API_KEY=test-llm-key",
	))
	s.start("api", bins["docket-api"], nil, append(env,
		"DOCKET_HTTP_ADDR="+apiAddr,
		"DOCKET_METRICS_ADDR="+s.apiMetrics,
		"DOCKET_METRICS_TENANT_LABELS=true",
		"DOCKET_API_KEYS_FILE="+filepath.Join(s.dir, "keys.json"),
	))
	s.waitFor("the API to be ready", func() bool { return status(s.api+"/readyz", "") == http.StatusOK })
	s.waitFor("the worker's metrics", func() bool { return status("http://"+s.workerMetrics+"/metrics", "") == http.StatusOK })
	return s
}

// writeKeys writes the API's keys file.
func (s *stack) writeKeys() {
	secret := func() string {
		v, err := auth.NewSecret()
		require.NoError(s.t, err)
		s.secrets = append(s.secrets, v)
		return v
	}
	s.jobsKey, s.metricsKey, s.throttledKey = secret(), secret(), secret()
	keys := []auth.Key{
		{ID: "jobs", Tenant: "acme", Scopes: []auth.Scope{auth.ScopeJobsRead, auth.ScopeJobsWrite, auth.ScopeDocumentsRead, auth.ScopeDocumentsWrite}, SHA256: auth.HashSecret(s.jobsKey)},
		{ID: "prometheus", Tenant: "monitoring", Scopes: []auth.Scope{auth.ScopeMetrics}, SHA256: auth.HashSecret(s.metricsKey)},
		{ID: "throttled", Tenant: "slow", Scopes: []auth.Scope{auth.ScopeJobsRead}, SHA256: auth.HashSecret(s.throttledKey), RequestsPerSecond: 0.01},
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	require.NoError(s.t, err)
	require.NoError(s.t, os.WriteFile(filepath.Join(s.dir, "keys.json"), b, 0o600))
}

// start runs a binary in its own process group, which cleanup kills.
func (s *stack) start(name, bin string, args, env []string) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	log, err := os.Create(filepath.Join(s.dir, name+".log"))
	require.NoError(s.t, err)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(s.t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		_ = log.Close()
		if s.t.Failed() {
			b, _ := os.ReadFile(log.Name())
			s.t.Logf("%s log:\n%s", name, tail(b, 4000))
		}
	})
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func (s *stack) waitFor(what string, ok func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// status is the status code of a GET of url with key (none when empty),
// or 0 when nothing answered.
func status(url, key string) int {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// call sends a request to the API with the jobs key and decodes a JSON
// answer into out (when not nil).
func (s *stack) call(method, path, contentType string, body []byte, out any) int {
	s.t.Helper()
	req, err := http.NewRequest(method, s.api+path, bytes.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Authorization", "Bearer "+s.jobsKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	if out != nil && resp.StatusCode < 300 {
		require.NoError(s.t, json.Unmarshal(b, out), "%s %s: %s", method, path, b)
	}
	return resp.StatusCode
}

// startJob starts a job and returns its id.
func (s *stack) startJob(typ string, input any) string {
	s.t.Helper()
	body, err := json.Marshal(map[string]any{"type": typ, "input": input})
	require.NoError(s.t, err)
	var v struct{ ID string }
	require.Equal(s.t, http.StatusAccepted, s.call(http.MethodPost, "/jobs", "application/json", body, &v))
	return v.ID
}

// waitJob waits for a job to end and returns its status.
func (s *stack) waitJob(id string) string {
	s.t.Helper()
	var v struct{ Status string }
	deadline := time.Now().Add(3 * time.Minute)
	for {
		require.Equal(s.t, http.StatusOK, s.call(http.MethodGet, "/jobs/"+id, "", nil, &v))
		switch v.Status {
		case "SUCCEEDED", "FAILED", "CANCELED", "TIMED_OUT":
			return v.Status
		}
		require.True(s.t, time.Now().Before(deadline), "job %s still %s", id, v.Status)
		time.Sleep(250 * time.Millisecond)
	}
}

// ids are the job and document ids the jobs had, which no label may carry.
type ids []string

// runJobs runs one job of each kind and outcome the dashboard shows: a
// sum, a wordcount that succeeds and one that fails (a 404 page), a
// document job with a text-layer page and a scanned one through OCR,
// entities and an LLM summary, and a canceled sum; and one request over a
// key's rate limit (a 429).
func (s *stack) runJobs() ids {
	t := s.t
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/page" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body><p>metrics count words and words count metrics</p></body></html>")
	}))
	t.Cleanup(page.Close)

	scan, err := testdocs.Render([]string{"Invoice 4711 from Acme", "Total 1375.50 EUR"}, 40)
	require.NoError(t, err)
	pdf := testdocs.PDF([]testdocs.Page{
		{Text: []string{"A page with a text layer, from Acme Trading Ltd in Berlin.", "Contact billing@example.org before 2026-12-31."}},
		{Image: scan},
	})
	var doc struct{ ID string }
	require.Contains(t, []int{http.StatusCreated, http.StatusOK},
		s.call(http.MethodPost, "/documents?filename=invoice.pdf", "application/pdf", pdf, &doc))

	out := ids{doc.ID}
	want := map[string]string{}
	sum := s.startJob("sum", map[string]any{"start": 1, "end": 100})
	want[sum] = "SUCCEEDED"
	ok := s.startJob("wordcount", map[string]any{"url": page.URL + "/page"})
	want[ok] = "SUCCEEDED"
	missing := s.startJob("wordcount", map[string]any{"url": page.URL + "/missing"})
	want[missing] = "FAILED"
	document := s.startJob("document", map[string]any{"document_id": doc.ID, "steps": []string{"ocr", "entities", "summarize"}})
	want[document] = "SUCCEEDED"
	long := s.startJob("sum", map[string]any{"start": 1, "end": 1000000, "work_ms": 60000})
	s.waitFor("the long sum to run", func() bool {
		var v struct{ Status string }
		return s.call(http.MethodGet, "/jobs/"+long, "", nil, &v) == http.StatusOK && v.Status == "RUNNING"
	})
	require.Equal(t, http.StatusAccepted, s.call(http.MethodDelete, "/jobs/"+long, "", nil, nil))
	want[long] = "CANCELED"
	// A job that runs out of time (the server's workflow_timeout).
	late, err := json.Marshal(map[string]any{"type": "sum", "input": map[string]any{"start": 1, "end": 1000000, "work_ms": 60000}, "timeout": "2s"})
	require.NoError(t, err)
	var v struct{ ID string }
	require.Equal(t, http.StatusAccepted, s.call(http.MethodPost, "/jobs", "application/json", late, &v))
	want[v.ID] = "TIMED_OUT"
	for id, status := range want {
		require.Equal(t, status, s.waitJob(id), "job %s", id)
		out = append(out, id)
	}
	// One request within the throttled key's limit, one over it.
	require.Equal(t, http.StatusOK, status(s.api+"/jobs", s.throttledKey))
	require.Equal(t, http.StatusTooManyRequests, status(s.api+"/jobs", s.throttledKey))
	return out
}

// chatServer is an OpenAI-compatible Chat Completions endpoint that
// answers every request with a short text and its token usage.
func chatServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model          string          `json:"model"`
			ResponseFormat json.RawMessage `json:"response_format"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		content := "Acme Trading Ltd invoices 1375.50 euros."
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
	return srv
}

// scrape reads an exposition in Prometheus's text format.
func scrape(t *testing.T, url, key string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", url, b)
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"), "%s: %s", url, resp.Header.Get("Content-Type"))
	return b
}
