// Package teststack runs Docket's real components for tests: a Temporal dev
// server from the pinned CLI, a worker and the API on loopback ports, so
// that tests talk to the same processes `make run` starts.
package teststack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/config"
	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/entities"
	"github.com/docket-dev/docket/internal/crypt"
	"github.com/docket-dev/docket/internal/webhook"
	"github.com/docket-dev/docket/internal/webhook/endpoints"
	"github.com/docket-dev/docket/internal/workers"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/llm"
	"github.com/docket-dev/docket/ocr"
)

// CLIPath returns the pinned temporal CLI: $DOCKET_TEMPORAL_CLI (the
// Makefile sets it) or .tools/bin/temporal at the repository root.
func CLIPath() (string, error) {
	if p := os.Getenv("DOCKET_TEMPORAL_CLI"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, ".tools", "bin", "temporal")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("temporal CLI not found at %s: run `make tools` (or `make test`) first", p)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root not found")
		}
		dir = parent
	}
}

// FairnessConfig is the dynamic-config value that turns on Temporal's
// task-queue fairness: tasks are dispatched round-robin across their
// fairness keys (Docket's tenants) instead of first in, first out, so one
// tenant's burst does not starve another. Server 1.29.1 has it off by
// default; it implies matching.useNewMatcher, which priority keys need too.
const FairnessConfig = "matching.enableFairness=true"

// DynamicConfig is the dev server configuration `make run` uses
// (scripts/run.sh): no 50 ms wait per workflow hop, with the same
// durability, and fairness on.
var DynamicConfig = []string{
	"--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000",
	"--dynamic-config-value", "system.enableActivityEagerExecution=true",
	"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
	"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
	"--dynamic-config-value", FairnessConfig,
}

// SearchAttributes are Docket's custom search attributes, all Keyword,
// which `make run` registers with --search-attribute NAME=Keyword.
var SearchAttributes = []string{job.StatusSearchAttribute, job.TenantSearchAttribute}

// Server is a Temporal dev server started for tests.
type Server struct {
	dev *testsuite.DevServer
	CLI string
}

// ServerOptions are what a test changes in the server `make run` starts.
type ServerOptions struct {
	// Fairness turns task-queue fairness on (FairnessConfig), as `make
	// run` has it. False sets matching.enableFairness=false instead and
	// leaves the rest of DynamicConfig as it is, for a test or benchmark
	// that compares the two in one run. With fairness off, server 1.29.1
	// also uses its old task matcher (matching.useNewMatcher defaults to
	// false), which ignores priority keys too.
	Fairness bool
	// DBFile, when not empty, keeps the server's data in this SQLite file
	// (with its -wal and -shm files beside it), as `make run` does and
	// with make run's pragmas (WAL, synchronous=NORMAL), instead of in
	// memory: for a test that looks at what the server writes to disk.
	DBFile string
	// MetricsPort, when not 0, serves the server's Prometheus metrics on
	// 127.0.0.1:MetricsPort/metrics (--metrics-port), as `make run` does.
	MetricsPort int
	// ExtraDynamicConfig are more dynamic-config values (KEY=VALUE), for
	// a test that needs the server to do something sooner.
	ExtraDynamicConfig []string
}

// sqlitePragmas are make run's (scripts/run.sh) for its database file.
var sqlitePragmas = []string{
	"--sqlite-pragma", "journal_mode=wal",
	"--sqlite-pragma", "synchronous=NORMAL",
}

// extraArgs are the dev server's arguments that o changes (the SDK passes
// --db-filename itself, from DevServerOptions.DBFilename).
func (o ServerOptions) extraArgs() []string {
	args := o.dynamicConfig()
	if o.DBFile != "" {
		args = append(args, sqlitePragmas...)
	}
	for _, v := range o.ExtraDynamicConfig {
		args = append(args, "--dynamic-config-value", v)
	}
	if o.MetricsPort != 0 {
		args = append(args, "--metrics-port", fmt.Sprint(o.MetricsPort))
	}
	return args
}

// dynamicConfig is DynamicConfig with matching.enableFairness set as o
// says (last, where DynamicConfig has it).
func (o ServerOptions) dynamicConfig() []string {
	key, _, _ := strings.Cut(FairnessConfig, "=")
	var args []string
	for i := 0; i+1 < len(DynamicConfig); i += 2 {
		if !strings.HasPrefix(DynamicConfig[i+1], key+"=") {
			args = append(args, DynamicConfig[i], DynamicConfig[i+1])
		}
	}
	return append(args, "--dynamic-config-value", fmt.Sprintf("%s=%t", key, o.Fairness))
}

// StartServer starts an in-memory dev server on a free port as `make run`
// configures it: DynamicConfig (fairness on) and Docket's search
// attributes. It is StartServerWith(ctx, ServerOptions{Fairness: true}).
func StartServer(ctx context.Context) (*Server, error) {
	return StartServerWith(ctx, ServerOptions{Fairness: true})
}

// StartServerWith starts a dev server on a free port with Docket's search
// attributes and DynamicConfig changed by o, in memory unless o.DBFile
// names a file. Note that the zero ServerOptions has fairness off.
func StartServerWith(ctx context.Context, o ServerOptions) (*Server, error) {
	cli, err := CLIPath()
	if err != nil {
		return nil, err
	}
	var attrs []temporal.SearchAttributeUpdate
	for _, name := range SearchAttributes {
		// The dev server registers the type of the value given.
		attrs = append(attrs, temporal.NewSearchAttributeKeyKeyword(name).ValueSet(""))
	}
	dev, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: cli,
		ClientOptions: &client.Options{
			Logger:           tlog.NewStructuredLogger(Logger()),
			DataConverter:    crypt.DataConverter(Ring()),
			FailureConverter: crypt.FailureConverter(crypt.DataConverter(Ring())),
		},
		SearchAttributes: temporal.NewSearchAttributes(attrs...),
		LogLevel:         "error",
		DBFilename:       o.DBFile,
		ExtraArgs:        o.extraArgs(),
		Stdout:           io.Discard,
		Stderr:           io.Discard,
	})
	if err != nil {
		return nil, fmt.Errorf("start dev server: %w", err)
	}
	return &Server{dev: dev, CLI: cli}, nil
}

// Address is the server's gRPC host:port.
func (s *Server) Address() string { return s.dev.FrontendHostPort() }

// Client returns a client of the server.
func (s *Server) Client() client.Client { return s.dev.Client() }

// Stop stops the server.
func (s *Server) Stop() error { return s.dev.Stop() }

// CLIOutput runs the pinned temporal CLI against the server.
func (s *Server) CLIOutput(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, s.CLI, append(args, "--address", s.Address())...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("temporal %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return out, nil
}

// Logger is the quiet logger tests give Docket's components.
func Logger() *slog.Logger {
	// Activity failures are logged at ERROR by the SDK and many tests
	// cause them on purpose; DOCKET_TEST_VERBOSE=1 shows them.
	level := slog.LevelError + 4
	if os.Getenv("DOCKET_TEST_VERBOSE") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// Config is the configuration test components run with: config.Defaults
// (no DOCKET_* setting of the developer's environment) on taskQueue, with
// stops, fetches and jobs bounded tighter so that a broken test fails
// fast, and OCR and LLM limits loose enough not to throttle tests.
func Config(taskQueue string) config.Config {
	cfg := config.Defaults()
	cfg.TaskQueue = taskQueue
	cfg.JobTimeout = time.Hour
	cfg.WorkerStopTimeout = 5 * time.Second
	cfg.FetchTimeout = 10 * time.Second
	cfg.OCRConcurrency = 2
	// Tests read the same generated documents again and watch their OCR
	// run: the OCR cache would answer a second job at once. The tests of
	// the cache turn it on (WorkerOptions.Tune).
	cfg.OCRCache = false
	cfg.LLMRate = 100
	// Encrypted, as make run runs: the committed test ring.
	cfg.EncryptionKeysFile = RingFile()
	cfg.Ring = Ring()
	return cfg
}

// RingFile is the key ring tests encrypt with, committed for that purpose
// (it protects nothing): the histories recorded with it replay with it.
func RingFile() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "encryption-keys.json")
}

var (
	ringOnce sync.Once
	ring     *crypt.Ring
)

// Ring is the test key ring, loaded once per test binary.
func Ring() *crypt.Ring {
	ringOnce.Do(func() {
		var err error
		if ring, err = crypt.LoadRing(context.Background(), RingFile(), ""); err != nil {
			panic(fmt.Sprintf("load the test key ring: %v", err))
		}
	})
	return ring
}

// WorkerOptions are what a test worker changes in the worker of Config.
type WorkerOptions struct {
	// TaskQueue is the base task queue it polls.
	TaskQueue string
	// Identity names the worker in job step reports.
	Identity string
	// AllowHosts may be fetched although loopback (the tests' own servers).
	AllowHosts []string
	// Docs is the blob store; nil leaves the document steps out.
	Docs *documents.Store
	// LLM is the LLM client of the document steps; nil means none.
	LLM *llm.Client
	// Roles are the worker roles; empty means all.
	Roles []string
	// WebhookSecret signs per-job webhook deliveries (DOCKET_WEBHOOK_SECRET).
	WebhookSecret webhook.Secret
	// Tune, when set, changes the worker's configuration further.
	Tune func(*config.Config)
}

// StartWorker runs the workers of every role in this process, assembled as
// worker/main.go assembles them (workers.Configure and workers.Documents)
// from Config with o's changes.
func StartWorker(c client.Client, o WorkerOptions) (*workers.Set, error) {
	cfg := Config(o.TaskQueue)
	cfg.FetchAllowHosts = o.AllowHosts
	cfg.WorkerRoles = o.Roles
	cfg.WebhookSecret = o.WebhookSecret
	if o.Tune != nil {
		o.Tune(&cfg)
	}
	opts := workers.Configure(cfg, o.Identity)
	if o.Docs != nil {
		opts.Notify.Endpoints = endpoints.NewStore(o.Docs.Bucket, o.Docs.Ring)
		ner, err := sharedExtractor()
		if err != nil {
			return nil, fmt.Errorf("load entity model: %w", err)
		}
		opts.Document, err = workers.Documents(cfg, o.Identity, workers.Resources{Docs: o.Docs, NER: ner, LLM: o.LLM})
		if err != nil {
			return nil, err
		}
	}
	return workers.Start(c, opts)
}

var (
	extractorOnce sync.Once
	extractor     *entities.Extractor
	extractorErr  error
)

// sharedExtractor loads the NER model once per test binary.
func sharedExtractor() (*entities.Extractor, error) {
	extractorOnce.Do(func() { extractor, extractorErr = entities.NewExtractor() })
	return extractor, extractorErr
}

// NewStore opens a blob store in dir.
func NewStore(dir string) (*documents.Store, error) {
	s, err := documents.Open(context.Background(), "file://"+filepath.ToSlash(dir)+"?create_dir=1&no_tmp_dir=1")
	if err != nil {
		return nil, err
	}
	s.Engine = &ocr.Engine{}
	s.Ring = Ring()
	return s, nil
}

// Jobs returns the job client the API of Config(taskQueue) uses, with
// no document check.
func Jobs(c client.Client, taskQueue string) *job.Client {
	return api.NewJobs(c, Config(taskQueue), nil)
}

// API returns the API docket-api would serve with Config(taskQueue) on c
// (api.New), for a test to change fields of before serving it. docs may
// be nil when a test uses no documents.
func API(c client.Client, taskQueue string, docs *documents.Store) *api.Server {
	s := api.New(c, Config(taskQueue), docs, Logger())
	// A test that waits this long on Temporal has failed already.
	s.CallTimeout = 5 * time.Second
	return s
}

// StartAPI serves API(c, taskQueue, docs) on a loopback port.
func StartAPI(c client.Client, taskQueue string, docs *documents.Store) *httptest.Server {
	return Serve(API(c, taskQueue, docs).Handler())
}

// Serve serves h on a loopback port with the production server
// (api.NewHTTPServer: its timeouts and its problem+json answers to
// requests net/http cannot parse).
func Serve(h http.Handler) *httptest.Server {
	ts := httptest.NewUnstartedServer(h)
	hs := api.NewHTTPServer("", h)
	ts.Config = hs.Server
	ts.Listener = hs.WrapListener(ts.Listener)
	ts.Start()
	return ts
}

// Build compiles the Go package in pkgDir into dir and returns the binary,
// so that a test can run a command as a separate process.
func Build(ctx context.Context, pkgDir, dir string) (string, error) {
	bin := filepath.Join(dir, "cmd")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, pkgDir).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %w: %s", pkgDir, err, out)
	}
	return bin, nil
}
