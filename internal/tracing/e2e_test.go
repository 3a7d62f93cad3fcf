package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/docket-dev/docket/internal/crypt"
	"github.com/docket-dev/docket/internal/tracing/tracingtest"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/tools/testdocs"
	"github.com/docket-dev/docket/tools/teststack"
	"github.com/docket-dev/docket/workflows"
)

// A document job submitted to the real API with a W3C traceparent is one
// trace: the POST /jobs span (the caller's span its parent), the API's
// StartWorkflow span, the worker's RunWorkflow span and, for each step, the
// workflow's StartActivity span and the RunActivity span of the worker
// that ran it, each the child of the one before, across processes and
// task queues, through the encryption codec. Every Temporal span names
// the job (id, type, tenant), and no span carries the document's text or
// file name. The processes run as built (worker/ and api/cmd/docket-api,
// started as make run starts them) and send their spans to a real OTLP
// receiver only when they stop: the batch delay is longer than the test,
// so what arrives proves the flush on shutdown. The job's history, traced,
// replays with and without the tracing interceptor.
func TestOneTraceFromPostToEveryStep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv, err := teststack.StartServer(ctx)
	require.NoError(t, err)
	defer func() { _ = srv.Stop() }()
	recv, err := tracingtest.NewReceiver()
	require.NoError(t, err)
	defer recv.Close()

	workerBin, err := teststack.Build(ctx, "../../worker", t.TempDir())
	require.NoError(t, err)
	apiBin, err := teststack.Build(ctx, "../../api/cmd/docket-api", t.TempDir())
	require.NoError(t, err)

	dir := t.TempDir()
	keysFile := filepath.Join(dir, "keys.json")
	const tenant = "acme"
	out, err := exec.CommandContext(ctx, apiBin, "keys", "new", "--tenant", tenant,
		"--scopes", "jobs:read,jobs:write,documents:read,documents:write", "--file", keysFile).Output()
	require.NoError(t, err)
	key := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])

	const queue = "docket-tracing-test"
	addr := freeAddr(t)
	env := append(cleanEnv(),
		"TEMPORAL_ADDRESS="+srv.Address(), "DOCKET_TASK_QUEUE="+queue,
		"DOCKET_ENCRYPTION_KEYS_FILE="+teststack.RingFile(), "DOCKET_DATA_DIR="+filepath.Join(dir, "data"),
		"DOCKET_LOG_LEVEL=error", "DOCKET_WORKER_STOP_TIMEOUT=5s",
		"OTEL_EXPORTER_OTLP_ENDPOINT="+recv.Endpoint(),
		// Nothing leaves before the processes stop: the flush on
		// shutdown must send it all.
		"OTEL_BSP_SCHEDULE_DELAY=600000",
	)
	workerProc := start(t, workerBin, env)
	apiProc := start(t, apiBin, append(env, "DOCKET_HTTP_ADDR="+addr, "DOCKET_API_KEYS_FILE="+keysFile))
	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, time.Minute, 100*time.Millisecond, "the API is ready")

	// A text-layer PDF: no tesseract needed, and its text is known.
	const marker, filename = "Quixotic Zebra Invoice", "confidential-name.pdf"
	pdf := testdocs.PDF([]testdocs.Page{{Text: []string{marker + " for ACME Corporation, Berlin, 3 March 2026."}}})
	var doc struct{ ID string }
	status := do(t, http.MethodPost, base+"/documents?filename="+filename, key, nil, pdf, &doc)
	require.Equal(t, http.StatusCreated, status)

	const traceID, callerSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	body, err := json.Marshal(map[string]any{"type": job.TypeDocument, "input": map[string]any{
		"document_id": doc.ID, "steps": []string{job.StepOCR, job.StepEntities, job.StepSummarize},
	}})
	require.NoError(t, err)
	var v job.View
	status = do(t, http.MethodPost, base+"/jobs", key, http.Header{"Traceparent": {"00-" + traceID + "-" + callerSpan + "-01"}}, body, &v)
	require.Equal(t, http.StatusAccepted, status)
	require.Eventually(t, func() bool {
		return do(t, http.MethodGet, base+"/jobs/"+v.ID+"/results?wait=10s", key, nil, nil, nil) == http.StatusOK
	}, 2*time.Minute, 10*time.Millisecond, "the job ends")
	var done job.View
	require.Equal(t, http.StatusOK, do(t, http.MethodGet, base+"/jobs/"+v.ID, key, nil, nil, &done))
	require.Equal(t, job.StatusSucceeded, done.Status)

	history := historyOf(t, srv, v.ID)
	checkHeaders(t, history)
	replays(t, history)

	require.Empty(t, recv.Spans(), "no span leaves before the flush")
	stop(t, apiProc)
	stop(t, workerProc)
	require.Zero(t, recv.Errors())

	var spans []tracingtest.Span
	for _, s := range recv.Spans() {
		for _, val := range s.Attrs {
			require.NotContains(t, val, "Quixotic", "span %s carries document text", s.Name)
			require.NotContains(t, val, "confidential", "span %s carries the file name", s.Name)
		}
		if s.TraceID == traceID {
			spans = append(spans, s)
		}
	}
	one := func(name, service, parent string) tracingtest.Span {
		t.Helper()
		var found []tracingtest.Span
		for _, s := range spans {
			if s.Name == name && s.Service == service && (parent == "" || s.ParentID == parent) {
				found = append(found, s)
			}
		}
		require.Len(t, found, 1, "spans %q of %s with parent %s in %s", name, service, parent, names(spans))
		return found[0]
	}
	post := one("POST /jobs", "docket-api", callerSpan)
	require.Equal(t, "/jobs", post.Attrs["http.route"])
	require.Equal(t, "202", post.Attrs["http.response.status_code"])
	startWF := one("StartWorkflow:"+job.TypeDocument, "docket-api", post.SpanID)
	// A worker that replays the history (here: to answer GET /jobs/{id}
	// once the job has ended) runs the workflow again and makes another
	// RunWorkflow span, a child of the same StartWorkflow; the steps are
	// scheduled, and spanned, only by the run that wrote the history.
	temporalSpans := []tracingtest.Span{post, startWF}
	runs := map[string]bool{}
	for _, s := range spans {
		if s.Name == "RunWorkflow:"+job.TypeDocument {
			require.Equal(t, "docket-worker", s.Service)
			require.Equal(t, startWF.SpanID, s.ParentID, "RunWorkflow's parent is StartWorkflow, across processes")
			require.Equal(t, v.ID, s.Attrs["temporalWorkflowID"])
			runs[s.SpanID] = true
			temporalSpans = append(temporalSpans, s)
		}
	}
	require.NotEmpty(t, runs, "no RunWorkflow span in %s", names(spans))
	for _, step := range []string{job.StepOCR, job.StepEntities, job.StepSummarize} {
		sched := one("StartActivity:"+step, "docket-worker", "")
		require.True(t, runs[sched.ParentID], "StartActivity:%s is a child of a RunWorkflow span", step)
		ran := one("RunActivity:"+step, "docket-worker", sched.SpanID)
		temporalSpans = append(temporalSpans, sched, ran)
	}
	for _, s := range temporalSpans {
		require.Equal(t, v.ID, s.Attrs[job.TraceJobID], s.Name)
		require.Equal(t, job.TypeDocument, s.Attrs[job.TraceJobType], s.Name)
		require.Equal(t, tenant, s.Attrs[job.TraceTenant], s.Name)
	}
}

// checkHeaders: every step's scheduling carries the trace context in its
// header, which the SDK writes with its default converter, not through
// the codec: it holds ids only (the trace's, and the job's id, type and
// tenant as baggage, all plain in search attributes anyway).
func checkHeaders(t *testing.T, h *historypb.History) {
	t.Helper()
	n := 0
	for _, ev := range h.GetEvents() {
		attrs := ev.GetActivityTaskScheduledEventAttributes()
		if attrs == nil {
			continue
		}
		n++
		p := attrs.GetHeader().GetFields()["_tracer-data"]
		require.NotNil(t, p, "activity %s has no trace header", attrs.GetActivityType().GetName())
		require.Equal(t, "json/plain", string(p.GetMetadata()["encoding"]))
		require.Contains(t, string(p.GetData()), "traceparent")
		require.Equal(t, crypt.EncodingEncrypted, string(attrs.GetInput().GetPayloads()[0].GetMetadata()["encoding"]), "inputs stay encrypted")
	}
	require.Equal(t, 3, n, "three steps")
}

// replays: a traced history replays against the workflow code whether or
// not the replaying worker traces (the interceptor adds headers, never
// commands), through the codec with the test ring.
func replays(t *testing.T, h *historypb.History) {
	t.Helper()
	dc := crypt.DataConverter(teststack.Ring())
	tracer, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{Tracer: tracenoop.NewTracerProvider().Tracer("test")})
	require.NoError(t, err)
	for _, ics := range [][]interceptor.WorkerInterceptor{nil, {tracer}} {
		r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
			DataConverter: dc, FailureConverter: crypt.FailureConverter(dc), Interceptors: ics,
		})
		require.NoError(t, err)
		workflows.Register(r)
		require.NoError(t, r.ReplayWorkflowHistory(tlog.NewStructuredLogger(teststack.Logger()), h), "with %d interceptors", len(ics))
	}
}

func historyOf(t *testing.T, srv *teststack.Server, id string) *historypb.History {
	t.Helper()
	it := srv.Client().GetWorkflowHistory(t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, ev)
	}
	return h
}

func names(spans []tracingtest.Span) string {
	var out []string
	for _, s := range spans {
		out = append(out, fmt.Sprintf("%s(%s %s<-%s)", s.Name, s.Service, s.SpanID, s.ParentID))
	}
	return strings.Join(out, ", ")
}

// do sends one request with the API key and decodes a JSON answer into
// out (when not nil), returning the status.
func do(t *testing.T, method, url, key string, header http.Header, body []byte, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	require.NoError(t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil && method == http.MethodPost && strings.Contains(url, "/jobs") {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && resp.StatusCode < 300 {
		require.NoError(t, json.Unmarshal(b, out), "%s", b)
	}
	return resp.StatusCode
}

// cleanEnv is the test's environment without the developer's own
// Temporal, Docket and OpenTelemetry settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEMPORAL_") && !strings.HasPrefix(kv, "DOCKET_") && !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	return env
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// start runs bin with env; cleanup kills it if the test did not stop it.
func start(t *testing.T, bin string, env []string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = env
	if os.Getenv("DOCKET_TEST_VERBOSE") != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// stop stops a process as an orchestrator would (SIGTERM) and waits for
// it to exit cleanly.
func stop(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "%s exits 0", cmd.Path)
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("%s did not stop within a minute of SIGTERM", cmd.Path)
	}
}
