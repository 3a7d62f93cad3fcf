package metricstest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// exposition is one scraped endpoint: its text and its metric families.
type exposition struct {
	name     string
	text     []byte
	families map[string]*dto.MetricFamily
}

func parseExposition(t *testing.T, name string, text []byte) exposition {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(text))
	require.NoError(t, err, "%s does not parse", name)
	return exposition{name: name, text: text, families: families}
}

// series lists the names a query can select in e: a counter's or gauge's
// own name, a histogram's _bucket, _sum and _count, a summary's name,
// _sum and _count.
func (e exposition) series() []string {
	var out []string
	for name, f := range e.families {
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			out = append(out, name+"_bucket", name+"_sum", name+"_count")
		case dto.MetricType_SUMMARY:
			out = append(out, name, name+"_sum", name+"_count")
		default:
			out = append(out, name)
		}
	}
	return out
}

// has reports whether e has a series of family name whose labels include
// every pair of labels.
func (e exposition) has(name string, labels map[string]string) bool {
	f := e.families[name]
	if f == nil {
		return false
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range labels {
			match = match && got[k] == v
		}
		if match {
			return true
		}
	}
	return false
}

// promtool runs `promtool check metrics` on text and returns its exit
// code and output: 0 clean, 3 lint problems only, 1 unparsable.
func promtool(t *testing.T, text []byte) (int, string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool is missing: make deps installs Debian's prometheus package")
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	require.NoError(t, err)
	return 0, string(out)
}

// TestMetrics runs real jobs through the real worker and API binaries
// and a dev server, then checks what the three expose: promtool lints
// Docket's expositions clean and parses Temporal's, the series the README
// and the dashboard name are there, no label carries an id or a secret,
// GET /metrics takes the metrics scope, every PromQL expression of the
// Grafana dashboard parses and names only exposed metrics, and a real
// Prometheus scrapes the three and answers queries of them.
func TestMetrics(t *testing.T) {
	s := startStack(t)
	secret := s.runJobs()

	apiMain := parseExposition(t, "api /metrics", scrape(t, s.api+"/metrics", s.metricsKey))
	apiListener := parseExposition(t, "api DOCKET_METRICS_ADDR", scrape(t, "http://"+s.apiMetrics+"/metrics", ""))
	// The worker's step counters are flushed as they happen; the SDK's
	// reach the registry within a second (metrics.temporalFlush).
	var worker exposition
	s.waitFor("the worker's SDK metrics", func() bool {
		worker = parseExposition(t, "worker", scrape(t, "http://"+s.workerMetrics+"/metrics", ""))
		return worker.has("temporal_workflow_completed_total", nil) && worker.has("temporal_activity_execution_latency_seconds", nil)
	})
	var temporal exposition
	s.waitFor("the server's backlog gauges", func() bool {
		temporal = parseExposition(t, "temporal server", scrape(t, "http://"+s.temporalMetrics+"/metrics", ""))
		return temporal.has("approximate_backlog_count", nil) && temporal.has("workflow_timeout", nil)
	})
	if os.Getenv("DOCKET_METRICS_DUMP") != "" {
		for _, e := range []exposition{apiMain, worker, temporal} {
			require.NoError(t, os.WriteFile(filepath.Join(os.Getenv("DOCKET_METRICS_DUMP"), strings.Fields(e.name)[0]+".prom"), e.text, 0o644))
		}
	}

	t.Run("promtool", func(t *testing.T) {
		for _, e := range []exposition{apiMain, apiListener, worker} {
			code, out := promtool(t, e.text)
			require.Equal(t, 0, code, "promtool check metrics on the %s exposition:\n%s", e.name, out)
		}
		// Temporal's own names break Prometheus's naming conventions
		// (counters without _total), which promtool reports as lint
		// problems (exit 3); it must still parse.
		code, out := promtool(t, temporal.text)
		require.Contains(t, []int{0, 3}, code, "promtool check metrics on the Temporal server's exposition:\n%s", out)
	})

	t.Run("series", func(t *testing.T) {
		for _, c := range []struct {
			e      exposition
			name   string
			labels map[string]string
		}{
			{apiMain, "docket_jobs_started_total", map[string]string{"type": "sum", "tenant": "acme"}},
			{apiMain, "docket_jobs_started_total", map[string]string{"type": "document", "tenant": "acme"}},
			{apiMain, "docket_http_requests_total", map[string]string{"route": "/jobs/{id}", "method": "GET", "code": "200"}},
			{apiMain, "docket_http_requests_total", map[string]string{"route": "/jobs", "method": "POST", "code": "202"}},
			{apiMain, "docket_http_request_duration_seconds", map[string]string{"route": "/documents", "method": "POST"}},
			{apiMain, "docket_http_rejections_total", map[string]string{"code": "429", "cause": "rate-limited", "tenant": "slow"}},
			{apiMain, "temporal_request_total", map[string]string{"operation": "StartWorkflowExecution"}},
			{worker, "temporal_worker_task_slots_available", map[string]string{"worker_type": "ActivityWorker"}},
			{worker, "temporal_worker_task_slots_used", map[string]string{"worker_type": "WorkflowWorker"}},
			{worker, "temporal_activity_schedule_to_start_latency_seconds", map[string]string{"activity_type": "ocr"}},
			{worker, "temporal_activity_execution_latency_seconds", map[string]string{"activity_type": "ocr"}},
			{worker, "temporal_activity_execution_failed_total", map[string]string{"activity_type": "count_words"}},
			{worker, "temporal_workflow_completed_total", map[string]string{"workflow_type": "document"}},
			{worker, "temporal_workflow_failed_total", map[string]string{"workflow_type": "wordcount"}},
			{worker, "temporal_workflow_canceled_total", map[string]string{"workflow_type": "sum"}},
			{worker, "temporal_sticky_cache_size", nil},
			{worker, "docket_ocr_pages_total", map[string]string{"method": "text-layer"}},
			{worker, "docket_ocr_pages_total", map[string]string{"method": "ocr"}},
			{worker, "docket_ocr_page_duration_seconds", map[string]string{"method": "ocr"}},
			{worker, "docket_llm_requests_total", map[string]string{"model": "test-model", "outcome": "ok"}},
			{worker, "docket_llm_tokens_total", map[string]string{"model": "test-model", "kind": "prompt"}},
			{worker, "docket_llm_tokens_total", map[string]string{"model": "test-model", "kind": "completion"}},
			{worker, "docket_fetch_requests_total", map[string]string{"outcome": "ok"}},
			{worker, "docket_fetch_requests_total", map[string]string{"outcome": "http_client_error"}},
		} {
			require.True(t, c.e.has(c.name, c.labels), "%s exposes no %s%v", c.e.name, c.name, c.labels)
		}
		// The API runs no steps and the worker serves no requests.
		require.NotContains(t, apiMain.families, "docket_ocr_pages_total")
		require.NotContains(t, worker.families, "docket_http_requests_total")
	})

	t.Run("labels", func(t *testing.T) {
		forbidden := append(append([]string{}, secret...), s.secrets...)
		forbidden = append(forbidden, "test-llm-key")
		for _, e := range []exposition{apiMain, worker} {
			for name, f := range e.families {
				for _, m := range f.GetMetric() {
					for _, l := range m.GetLabel() {
						for _, bad := range forbidden {
							require.NotContains(t, l.GetValue(), bad, "%s: %s{%s} carries an id or a secret", e.name, name, l.GetName())
						}
						if l.GetName() == "route" {
							require.False(t, strings.ContainsAny(l.GetValue(), "0123456789"), "%s: route %q is a path, not a template", e.name, l.GetValue())
						}
					}
				}
			}
		}
	})

	t.Run("scope", func(t *testing.T) {
		require.Equal(t, http.StatusUnauthorized, status(s.api+"/metrics", ""))
		require.Equal(t, http.StatusForbidden, status(s.api+"/metrics", s.jobsKey))
		require.Equal(t, http.StatusOK, status(s.api+"/metrics", s.metricsKey))
		// The metrics listener serves only /metrics.
		require.Equal(t, http.StatusNotFound, status("http://"+s.apiMetrics+"/jobs", ""))
	})

	names := map[string]bool{}
	for _, e := range []exposition{apiMain, worker, temporal} {
		for _, n := range e.series() {
			names[n] = true
		}
	}
	t.Run("dashboard", func(t *testing.T) {
		require.Empty(t, dashboardProblems(t, dashboardPath(t), names))
	})

	t.Run("prometheus", func(t *testing.T) {
		prom := startPrometheus(t, s)
		// A series of each target, read back through the HTTP API (the
		// server's own workers report temporal_worker_* too: by job).
		for _, q := range []string{
			`docket_jobs_started_total{job="docket-api",type="sum"}`,
			`temporal_worker_task_slots_available{job="docket-worker",worker_type="ActivityWorker"}`,
			`docket_ocr_pages_total{job="docket-worker",method="ocr"}`,
			`sum by (job) (service_requests{job="temporal"})`,
		} {
			s.waitFor("Prometheus to have "+q, func() bool { return len(prom.query(t, q)) > 0 })
		}
		// Every expression of the dashboard runs on a real Prometheus.
		for _, expr := range dashboardExprs(t, dashboardPath(t)) {
			prom.query(t, expr)
		}
	})
}

func dashboardPath(t *testing.T) string {
	return filepath.Join(repoRoot(t), "deploy", "grafana", "dashboards", "docket.json")
}

// promSample is one series of a Prometheus instant query's answer.
type promSample struct {
	Metric map[string]string `json:"metric"`
}

type prometheus struct{ base string }

// query runs an instant query through Prometheus's HTTP API.
func (p prometheus) query(t *testing.T, q string) []promSample {
	t.Helper()
	resp, err := http.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(q))
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "success", body.Status, "query %s: %s", q, body.Error)
	var out []promSample
	if body.Data.ResultType == "vector" {
		require.NoError(t, json.Unmarshal(body.Data.Result, &out))
	}
	return out
}

// startPrometheus runs Debian's prometheus binary on loopback, scraping
// the API (with the metrics key from a file, as a production Prometheus
// would), the worker's metrics listener and the Temporal server every
// second.
func startPrometheus(t *testing.T, s *stack) prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	require.NoError(t, err, "prometheus is missing: make deps installs Debian's prometheus package")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "metrics-key")
	require.NoError(t, os.WriteFile(keyFile, []byte(s.metricsKey), 0o600))
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: docket-api
    authorization:
      credentials_file: %s
    static_configs:
      - targets: [%q]
  - job_name: docket-worker
    static_configs:
      - targets: [%q]
  - job_name: temporal
    static_configs:
      - targets: [%q]
`, keyFile, strings.TrimPrefix(s.api, "http://"), s.workerMetrics, s.temporalMetrics)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(cfg), 0o600))
	if tool, err := exec.LookPath("promtool"); err == nil {
		out, err := exec.Command(tool, "check", "config", cfgFile).CombinedOutput()
		require.NoError(t, err, "promtool check config: %s", out)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.start("prometheus", bin, []string{
		"--config.file=" + cfgFile,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr,
		"--log.level=warn",
	}, []string{"PATH=" + os.Getenv("PATH")})
	p := prometheus{base: "http://" + addr}
	s.waitFor("Prometheus to be ready", func() bool { return status(p.base+"/-/ready", "") == http.StatusOK })
	// Ready, and every target scraped successfully.
	s.waitFor("Prometheus to scrape every target", func() bool {
		up := 0
		for _, r := range p.query(t, "up == 1") {
			if r.Metric["job"] != "" {
				up++
			}
		}
		return up == 3
	})
	return p
}

// dashboardExprs are the PromQL expressions of a Grafana dashboard's
// panels (rows' panels too), with Grafana's interval variables replaced
// by a duration, as Grafana does before it sends them.
func dashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var d struct {
		Panels []panel `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &d))
	var out []string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				if tg.Expr != "" {
					out = append(out, grafanaVars.Replace(tg.Expr))
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	require.NotEmpty(t, out)
	return out
}

type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$__interval", "15s", "$__range", "1h")
