// Command record runs real jobs of every workflow type against a fresh dev
// server and saves their histories, as `temporal workflow show --output
// json` writes them, for the replay tests in workflows/replay_test.go:
//
//	go run ./tools/cmd/record -out workflows/testdata/histories/v2
//
// (`make histories GEN=v2` does the same.) Each generation of workflow code
// gets its own folder; old folders are kept so that every change is
// checked against the histories of jobs that may still be running.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/docket-dev/docket/config"
	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/llm"
	"github.com/docket-dev/docket/tools/testdocs"
	"github.com/docket-dev/docket/tools/teststack"
	"github.com/docket-dev/docket/workflows"
)

const taskQueue = "docket-record"

func main() {
	out := flag.String("out", "", "folder to write the histories into (required)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "record: -out is required")
		os.Exit(2)
	}
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "record:", err)
		os.Exit(1)
	}
}

// recording is one job to run and how to drive it to its end.
type recording struct {
	name string
	run  func(ctx context.Context, r *recorder) (string, error)
}

type recorder struct {
	srv   *teststack.Server
	jobs  *job.Client
	pages string
	docs  *documents.Store
	// llmJobs starts jobs on llmQueue, whose worker has an LLM (a local
	// chat server): the extract job needs one, and the others keep
	// recording without.
	llmJobs *job.Client
	w       interface{ Stop() }
}

func run(out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	srv, err := teststack.StartServer(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = srv.Stop() }()
	pages, stopPages, err := servePages()
	if err != nil {
		return err
	}
	defer stopPages()

	dir, err := os.MkdirTemp("", "docket-record-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	docs, err := teststack.NewStore(dir)
	if err != nil {
		return err
	}
	defer docs.Close()
	r := &recorder{srv: srv, jobs: teststack.Jobs(srv.Client(), taskQueue), pages: pages, docs: docs}
	if err := r.startWorker(); err != nil {
		return err
	}
	defer func() { r.w.Stop() }()
	stopLLM, err := r.startLLMWorker()
	if err != nil {
		return err
	}
	defer stopLLM()

	if missing := uncovered(recordings); len(missing) > 0 {
		return fmt.Errorf("no recording starts a job of the kinds %v: add one to recordings", missing)
	}
	for _, rec := range recordings {
		id, err := rec.run(ctx, r)
		if err != nil {
			return fmt.Errorf("%s: %w", rec.name, err)
		}
		hist, err := srv.CLIOutput(ctx, "workflow", "show", "--workflow-id", id, "--output", "json")
		if err != nil {
			return err
		}
		path := filepath.Join(out, rec.name+".json")
		if err := os.WriteFile(path, hist, 0o644); err != nil {
			return err
		}
		slog.Info("recorded", "history", path, "job", id)
	}
	return nil
}

// uncovered lists the kinds of workflows.Kinds that no recording is named
// after ("<kind>-<path>", the names the replay tests look for).
func uncovered(recs []recording) []string {
	var missing []string
	for _, name := range workflows.Kinds.Names() {
		if !slices.ContainsFunc(recs, func(r recording) bool { return strings.HasPrefix(r.name, name+"-") }) {
			missing = append(missing, name)
		}
	}
	return missing
}

func (r *recorder) startWorker() error {
	w, err := teststack.StartWorker(r.srv.Client(), teststack.WorkerOptions{
		TaskQueue: taskQueue, Identity: "record-worker", AllowHosts: []string{"127.0.0.1"}, Docs: r.docs,
		// Long documents are shared out in batches of 3 pages, whatever
		// the recording machine's cores.
		Tune: func(c *config.Config) { c.OCRBatchPages = 3 },
	})
	if err != nil {
		return err
	}
	r.w = w
	return nil
}

// llmQueue is the task queue of the recorder's worker with an LLM.
const llmQueue = taskQueue + "-llm"

// extractAnswer is what the recorder's chat server answers: an object that
// conforms to extractSchema.
const (
	extractSchema = `{"type":"object","properties":{"invoice_number":{"type":"string"},"total":{"type":"number"}},"required":["invoice_number","total"]}`
	extractAnswer = `{"invoice_number":"4821","total":1375.5}`
)

// startLLMWorker starts a worker on llmQueue whose LLM is a local server
// speaking the Chat Completions wire format.
func (r *recorder) startLLMWorker() (func(), error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/chat/completions", func(w http.ResponseWriter, req *http.Request) {
		c, _ := json.Marshal(extractAnswer)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"record-model",
"choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],
"usage":{"prompt_tokens":120,"completion_tokens":14,"total_tokens":134}}`, c)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(l) }()
	model, err := llm.New(llm.Config{BaseURL: "http://" + l.Addr().String() + "/v1", Model: "record-model"}, nil)
	if err != nil {
		_ = hs.Close()
		return nil, err
	}
	w, err := teststack.StartWorker(r.srv.Client(), teststack.WorkerOptions{
		TaskQueue: llmQueue, Identity: "record-llm-worker", Docs: r.docs, LLM: model,
	})
	if err != nil {
		_ = hs.Close()
		return nil, err
	}
	r.llmJobs = teststack.Jobs(r.srv.Client(), llmQueue)
	return func() { w.Stop(); _ = hs.Close() }, nil
}

// servePages serves the pages wordcount jobs fetch: a page, a page that
// fails twice before answering, and a missing page.
func servePages() (string, func(), error) {
	var flaky atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "to be or not to be")
	})
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
		if flaky.Add(1) <= 2 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "third time lucky")
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = hs.Close() }, nil
}

func (r *recorder) start(ctx context.Context, typ, input, timeout string) (string, error) {
	v, _, err := r.jobs.Start(ctx, job.StartRequest{Type: typ, Input: json.RawMessage(input), Timeout: timeout})
	return v.ID, err
}

// startRaw starts a workflow without the API's validation, as the CLI can.
func (r *recorder) startRaw(ctx context.Context, typ string, input any) (string, error) {
	run, err := r.srv.Client().ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: taskQueue}, typ, input)
	if err != nil {
		return "", err
	}
	return run.GetID(), nil
}

// finish waits for the job to end with the wanted status.
func (r *recorder) finish(ctx context.Context, id string, want job.Status) (string, error) {
	for {
		v, _, err := r.jobs.Result(ctx, id, 30*time.Second)
		if err != nil && !errors.Is(err, job.ErrNotFinished) {
			return "", err
		}
		if v.Status.Terminal() {
			if v.Status != want {
				return "", fmt.Errorf("job %s ended %s, want %s", id, v.Status, want)
			}
			return id, nil
		}
	}
}

func (r *recorder) waitRunning(ctx context.Context, id string) error {
	for ctx.Err() == nil {
		v, err := r.jobs.Get(ctx, id)
		if err != nil {
			return err
		}
		if v.Status == job.StatusRunning && len(v.Steps) > 0 && v.Steps[0].Progress != nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ctx.Err()
}

// document uploads a generated document and runs a document job over it.
// The job's tenant is the scope of ctx, and the document goes to that
// tenant's part of the store.
func (r *recorder) document(ctx context.Context, data []byte, steps string, want job.Status) (string, error) {
	d, _, err := r.docs.ForTenant(job.ScopeOf(ctx).Tenant).Put(ctx, bytes.NewReader(data), "recorded.pdf", 10<<20)
	if err != nil {
		return "", err
	}
	id, err := r.start(ctx, job.TypeDocument, fmt.Sprintf(`{"document_id":%q,"steps":%s}`, d.ID, steps), "")
	if err != nil {
		return "", err
	}
	return r.finish(ctx, id, want)
}

// invoicePDF is two pages: a text layer and a scan.
func invoicePDF() ([]byte, error) {
	scan, err := testdocs.Render([]string{"Total due: EUR 1375.50", "Contact: billing@acme-trading.com"}, 32)
	if err != nil {
		return nil, err
	}
	return testdocs.PDF([]testdocs.Page{
		{Text: []string{"Invoice 4821 from Acme Trading Ltd, Berlin.", "Issued on 12 March 2024 to Nordwind GmbH."}},
		{Image: scan},
	}), nil
}

// scanPDF is n scanned pages, each with its own reference number.
func scanPDF(n int) ([]byte, error) {
	var pages []testdocs.Page
	for i := 1; i <= n; i++ {
		img, err := testdocs.Render([]string{fmt.Sprintf("Delivery note %d, reference %d", i, 70400+i)}, 32)
		if err != nil {
			return nil, err
		}
		pages = append(pages, testdocs.Page{Image: img})
	}
	return testdocs.PDF(pages), nil
}

func documentRecording(steps string) func(context.Context, *recorder) (string, error) {
	return func(ctx context.Context, r *recorder) (string, error) {
		pdf, err := invoicePDF()
		if err != nil {
			return "", err
		}
		return r.document(ctx, pdf, steps, job.StatusSucceeded)
	}
}

var recordings = []recording{
	{"extract-succeeded", func(ctx context.Context, r *recorder) (string, error) {
		pdf, err := invoicePDF()
		if err != nil {
			return "", err
		}
		d, _, err := r.docs.Put(ctx, bytes.NewReader(pdf), "recorded.pdf", 10<<20)
		if err != nil {
			return "", err
		}
		input := fmt.Sprintf(`{"document_id":%q,"schema":%s,"instructions":"Totals as numbers."}`, d.ID, extractSchema)
		v, _, err := r.llmJobs.Start(ctx, job.StartRequest{Type: job.TypeExtract, Input: json.RawMessage(input)})
		if err != nil {
			return "", err
		}
		for {
			v, _, err := r.llmJobs.Result(ctx, v.ID, 30*time.Second)
			if err != nil && !errors.Is(err, job.ErrNotFinished) {
				return "", err
			}
			if v.Status.Terminal() {
				if v.Status != job.StatusSucceeded {
					return "", fmt.Errorf("job %s ended %s", v.ID, v.Status)
				}
				return v.ID, nil
			}
		}
	}},
	{"document-ocr", documentRecording(`["ocr"]`)},
	// A tenant's job: DocketTenant and the fairness key set at start, the
	// tenant passed to the steps, its document in the tenant's part.
	{"document-ocr-entities-tenant", func(ctx context.Context, r *recorder) (string, error) {
		return documentRecording(`["ocr","entities"]`)(job.WithScope(ctx, job.TenantScope("acme")), r)
	}},
	{"sum-succeeded-tenant-priority", func(ctx context.Context, r *recorder) (string, error) {
		v, _, err := r.jobs.Start(job.WithScope(ctx, job.TenantScope("acme")),
			job.StartRequest{Type: job.TypeSum, Input: json.RawMessage(`{"start":1,"end":100}`), Priority: 2})
		if err != nil {
			return "", err
		}
		return r.finish(ctx, v.ID, job.StatusSucceeded)
	}},
	{"document-ocr-entities", documentRecording(`["ocr","entities"]`)},
	{"document-ocr-summarize", documentRecording(`["ocr","summarize"]`)},
	{"document-all-steps", documentRecording(`["ocr","entities","summarize"]`)},
	// A long scan: the ocr step answers with a plan, three ocr_pages
	// batches read the pages, ocr_assemble builds the result.
	{"document-ocr-fan-out", func(ctx context.Context, r *recorder) (string, error) {
		pdf, err := scanPDF(8)
		if err != nil {
			return "", err
		}
		return r.document(ctx, pdf, `["ocr","entities"]`, job.StatusSucceeded)
	}},
	// A damaged page: reported on its page, the job succeeds.
	{"document-page-error", func(ctx context.Context, r *recorder) (string, error) {
		pdf, err := scanPDF(2)
		if err != nil {
			return "", err
		}
		if pdf, err = testdocs.DamageImage(pdf, 2); err != nil {
			return "", err
		}
		return r.document(ctx, pdf, `["ocr"]`, job.StatusSucceeded)
	}},
	{"document-unreadable", func(ctx context.Context, r *recorder) (string, error) {
		pdf, err := invoicePDF()
		if err != nil {
			return "", err
		}
		return r.document(ctx, pdf[:len(pdf)/3], `["ocr","entities","summarize"]`, job.StatusFailed)
	}},
	{"sum-succeeded", func(ctx context.Context, r *recorder) (string, error) {
		id, err := r.start(ctx, job.TypeSum, `{"start":1,"end":100}`, "")
		if err != nil {
			return "", err
		}
		return r.finish(ctx, id, job.StatusSucceeded)
	}},
	{"sum-retried-after-worker-stop", func(ctx context.Context, r *recorder) (string, error) {
		// The worker stops while the step runs; the step is retried on a
		// new worker and resumes from its last heartbeat.
		id, err := r.start(ctx, job.TypeSum, `{"start":1,"end":1000,"work_ms":4000}`, "")
		if err != nil {
			return "", err
		}
		if err := r.waitRunning(ctx, id); err != nil {
			return "", err
		}
		r.w.Stop()
		if err := r.startWorker(); err != nil {
			return "", err
		}
		return r.finish(ctx, id, job.StatusSucceeded)
	}},
	{"sum-invalid-input", func(ctx context.Context, r *recorder) (string, error) {
		start, end := int64(10), int64(1)
		id, err := r.startRaw(ctx, job.TypeSum, job.SumInput{Start: &start, End: &end})
		if err != nil {
			return "", err
		}
		return r.finish(ctx, id, job.StatusFailed)
	}},
	{"sum-canceled", func(ctx context.Context, r *recorder) (string, error) {
		id, err := r.start(ctx, job.TypeSum, `{"start":1,"end":1000,"work_ms":30000}`, "")
		if err != nil {
			return "", err
		}
		if err := r.waitRunning(ctx, id); err != nil {
			return "", err
		}
		if _, err := r.jobs.Cancel(ctx, id); err != nil {
			return "", err
		}
		return r.finish(ctx, id, job.StatusCanceled)
	}},
	{"sum-timed-out", func(ctx context.Context, r *recorder) (string, error) {
		id, err := r.start(ctx, job.TypeSum, `{"start":1,"end":10,"work_ms":20000}`, "2s")
		if err != nil {
			return "", err
		}
		return r.finish(ctx, id, job.StatusTimedOut)
	}},
	{"wordcount-succeeded", func(ctx context.Context, r *recorder) (string, error) {
		id, err := r.start(ctx, job.TypeWordcount, fmt.Sprintf(`{"url":%q,"top":3}`, r.pages+"/page"), "")
		if err != nil {
			return "", err
		}
		return r.finish(ctx, id, job.StatusSucceeded)
	}},
	{"wordcount-retried", func(ctx context.Context, r *recorder) (string, error) {
		id, err := r.start(ctx, job.TypeWordcount, fmt.Sprintf(`{"url":%q}`, r.pages+"/flaky"), "")
		if err != nil {
			return "", err
		}
		return r.finish(ctx, id, job.StatusSucceeded)
	}},
	{"wordcount-not-found", func(ctx context.Context, r *recorder) (string, error) {
		id, err := r.start(ctx, job.TypeWordcount, fmt.Sprintf(`{"url":%q}`, r.pages+"/missing"), "")
		if err != nil {
			return "", err
		}
		return r.finish(ctx, id, job.StatusFailed)
	}},
}
