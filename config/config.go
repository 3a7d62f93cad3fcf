// Package config reads Docket's settings from the environment. Temporal's
// own connection settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE and the TOML config
// file) are read by the SDK's envconfig package, so Docket is pointed at a
// server the same way the temporal CLI is.
package config

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/docket-dev/docket/internal/crypt"
	"github.com/docket-dev/docket/internal/webhook"
	"github.com/docket-dev/docket/job"
)

// Config is Docket's own configuration.
type Config struct {
	// HTTPAddr is where the API listens.
	HTTPAddr string `env:"DOCKET_HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	// TaskQueue is the task queue jobs start on and workers poll.
	TaskQueue string `env:"DOCKET_TASK_QUEUE"`
	// JobTimeout bounds a whole job unless its request asks for less.
	JobTimeout time.Duration `env:"DOCKET_JOB_TIMEOUT" envDefault:"24h"`
	// QueryTimeout bounds the status query the API sends to a job's
	// workflow; without a worker the API answers from Temporal alone.
	QueryTimeout time.Duration `env:"DOCKET_QUERY_TIMEOUT" envDefault:"2s"`
	// FetchAllowHosts names hosts wordcount may fetch even though they
	// resolve to loopback or private addresses.
	FetchAllowHosts []string `env:"DOCKET_FETCH_ALLOW_HOSTS" envSeparator:","`
	// FetchTimeout bounds one fetch of a page.
	FetchTimeout time.Duration `env:"DOCKET_FETCH_TIMEOUT" envDefault:"30s"`
	// FetchMaxBytes caps the size of a fetched page.
	FetchMaxBytes int64 `env:"DOCKET_FETCH_MAX_BYTES" envDefault:"5242880"`
	// WorkerStopTimeout is how long a stopping worker lets running
	// activities finish before canceling them.
	WorkerStopTimeout time.Duration `env:"DOCKET_WORKER_STOP_TIMEOUT" envDefault:"30s"`
	// HeartbeatInterval caps how long an activity's heartbeats are held
	// back by the SDK. Cancellation and progress reach the server no later
	// than this; the SDK's default (80% of the heartbeat timeout) would let
	// a DELETE wait most of that timeout before the job stops.
	HeartbeatInterval time.Duration `env:"DOCKET_HEARTBEAT_INTERVAL" envDefault:"1s"`
	// WorkerRoles says which task queues a worker process serves:
	// "workflows" (workflows and the light activities), "ocr", "llm", or "all".
	WorkerRoles []string `env:"DOCKET_WORKER_ROLES" envSeparator:"," envDefault:"all"`
	// DataDir holds local state: the default blob store lives under it.
	DataDir string `env:"DOCKET_DATA_DIR" envDefault:".data"`
	// BlobURL is the gocloud.dev/blob URL of the blob store; empty means a
	// folder under DataDir. For S3-compatible storage, e.g.
	// s3://docket?endpoint=http://minio:9000&use_path_style=true&region=us-east-1
	// (credentials from the standard AWS_* variables).
	BlobURL string `env:"DOCKET_BLOB_URL"`
	// MaxDocumentBytes caps an uploaded document.
	MaxDocumentBytes int64 `env:"DOCKET_MAX_DOCUMENT_BYTES" envDefault:"52428800"`
	// OCRParallelism is how many pages one OCR activity reads at once
	// (0: one per core, since tesseract runs single-threaded here).
	OCRParallelism int `env:"DOCKET_OCR_PARALLELISM"`
	// MaxPages is the longest document accepted: at upload when its pages
	// can be counted, else at the ocr step (too_many_pages).
	MaxPages int `env:"DOCKET_MAX_PAGES" envDefault:"2000"`
	// OCRPageTimeout bounds the reading of one page: a runaway page fails
	// alone (page_timeout) and the job goes on with the others.
	OCRPageTimeout time.Duration `env:"DOCKET_OCR_PAGE_TIMEOUT" envDefault:"2m"`
	// OCRBatchPages is how many pages of a long document one ocr_pages
	// activity reads (0: one per page worker).
	OCRBatchPages int `env:"DOCKET_OCR_BATCH_PAGES"`
	// OCRCache keeps the text tesseract read of each page, per tenant, so
	// that a second job on the same document reads none again.
	OCRCache bool `env:"DOCKET_OCR_CACHE" envDefault:"true"`
	// OCRConcurrency is how many OCR activities (documents) a worker runs at once.
	OCRConcurrency int `env:"DOCKET_OCR_CONCURRENCY" envDefault:"1"`
	// LLMBaseURL is an OpenAI-compatible endpoint, e.g.
	// https://api.openai.com/v1 or http://localhost:11434/v1 (Ollama).
	// Empty: summaries are extractive and no LLM is called.
	LLMBaseURL string `env:"DOCKET_LLM_BASE_URL"`
	// LLMModel names the model.
	LLMModel string `env:"DOCKET_LLM_MODEL" envDefault:"gpt-4o-mini"`
	// LLMAPIKey authenticates to the endpoint. It is never logged.
	LLMAPIKey string `env:"DOCKET_LLM_API_KEY"`
	// LLMTimeout bounds one LLM call.
	LLMTimeout time.Duration `env:"DOCKET_LLM_TIMEOUT" envDefault:"60s"`
	// LLMRate limits LLM activities per second across all workers of the
	// LLM task queue (Temporal enforces it at the queue).
	LLMRate float64 `env:"DOCKET_LLM_RATE" envDefault:"2"`
	// LogLevel is debug, info, warn or error.
	LogLevel slog.Level `env:"DOCKET_LOG_LEVEL" envDefault:"info"`
	// GRPCCompression is how calls to Temporal are compressed: "gzip",
	// "none", or "auto" (none when TEMPORAL_ADDRESS is a loopback address,
	// gzip otherwise). The SDK gzips by default and the server answers in
	// kind; between processes on one host the bytes saved are free anyway,
	// while the compression costs the API and the worker CPU on every call.
	GRPCCompression string `env:"DOCKET_GRPC_COMPRESSION" envDefault:"auto"`
	// APIKeysFile is the JSON file of the API's keys (see internal/auth).
	// It is re-read when it changes, so keys are added and revoked without
	// a restart. Empty: the API serves without authentication, which it
	// only agrees to on a loopback address or with Auth set to "off".
	APIKeysFile string `env:"DOCKET_API_KEYS_FILE"`
	// Auth is "" (keys are required, except on a loopback address) or
	// "off" (serve without authentication on any address). It exists so
	// that turning authentication off on a reachable address is a
	// deliberate setting rather than a forgotten keys file.
	Auth string `env:"DOCKET_AUTH"`
	// CORSOrigins are the browser origins allowed to call the API
	// (exact, such as https://app.example.com; "*" allows any, and is
	// safe because the API's credential is a header, never a cookie).
	// Empty: no cross-origin calls.
	CORSOrigins []string `env:"DOCKET_CORS_ORIGINS" envSeparator:","`
	// EncryptionKeysFile is the key ring (internal/crypt) that encrypts
	// every Temporal payload Docket writes and every object it stores;
	// empty: payloads and objects are stored in plain text.
	EncryptionKeysFile string `env:"DOCKET_ENCRYPTION_KEYS_FILE"`
	// EncryptionKMSURL is the gocloud.dev/secrets keeper that unwraps a
	// ring's wrapped keys (base64key://… locally; awskms://… and the
	// like in production).
	EncryptionKMSURL string `env:"DOCKET_ENCRYPTION_KMS_URL"`
	// CodecAddr, when set, is a second listener of the API that serves
	// only the codec server, without API keys: the Temporal Web UI cannot
	// send one. It decrypts anything it is sent, so it must be a loopback
	// address unless CodecAllowRemote says otherwise (compose, where the
	// container's port is published on the host's loopback only).
	CodecAddr        string `env:"DOCKET_CODEC_ADDR"`
	CodecAllowRemote bool   `env:"DOCKET_CODEC_ALLOW_REMOTE"`
	// WebhookSecret (whsec_<base64>) signs per-job webhook deliveries whose
	// tenant has no endpoint at that URL; make run generates one. Never
	// logged. WebhookRetryFor bounds each delivery's retries and
	// WebhookTimeout one attempt.
	WebhookSecret   webhook.Secret `env:"DOCKET_WEBHOOK_SECRET"`
	WebhookRetryFor time.Duration  `env:"DOCKET_WEBHOOK_RETRY_FOR" envDefault:"24h"`
	WebhookTimeout  time.Duration  `env:"DOCKET_WEBHOOK_TIMEOUT" envDefault:"15s"`
	// WebhookSecretFile names a file holding WebhookSecret instead (what
	// `docket-api webhook-secret new` writes), so that compose and the
	// cluster keep the secret out of the environment; Load reads it.
	WebhookSecretFile string `env:"DOCKET_WEBHOOK_SECRET_FILE"`
	// MetricsAddr, when set, is where the process serves its Prometheus
	// metrics at /metrics without API keys: a worker's only metrics
	// endpoint, the API's second one (GET /metrics on DOCKET_HTTP_ADDR
	// takes a key with the metrics scope). Empty: a worker serves none.
	MetricsAddr string `env:"DOCKET_METRICS_ADDR"`
	// MetricsTenantLabels adds a tenant label to the API's job and
	// refusal counters; off, no metric names a tenant.
	MetricsTenantLabels bool `env:"DOCKET_METRICS_TENANT_LABELS"`
	// MetricsHandler receives the Temporal SDK's metrics of the clients
	// Dial makes (metrics.NewTemporal); nil: the SDK's no-op handler.
	MetricsHandler client.MetricsHandler `env:"-"`
	// Ring is the key ring Load read from EncryptionKeysFile; nil when
	// there is none. Tests set it themselves.
	Ring *crypt.Ring `env:"-"`
	// Interceptors are added to every Temporal client Dial makes (and so
	// to the workers made from it): the tracing interceptor when traces
	// are on (internal/tracing), none otherwise.
	Interceptors []interceptor.ClientInterceptor `env:"-"`
}

// gRPC compression settings.
const (
	CompressionAuto = "auto"
	CompressionGzip = "gzip"
	CompressionNone = "none"
)

// Auth settings.
const (
	// AuthOff serves the API without authentication on any address.
	AuthOff = "off"
)

// Load reads the configuration from the environment.
func Load() (Config, error) {
	c, err := parse(env.Options{})
	if err != nil {
		return Config{}, err
	}
	if err := c.loadWebhookSecretFile(); err != nil {
		return Config{}, err
	}
	if c.EncryptionKeysFile != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c.Ring, err = crypt.LoadRing(ctx, c.EncryptionKeysFile, c.EncryptionKMSURL); err != nil {
			return Config{}, fmt.Errorf("DOCKET_ENCRYPTION_KEYS_FILE: %w", err)
		}
	}
	return c, nil
}

// DataConverter is the data converter of every Temporal client Docket
// makes: the SDK's, with the ring's encryption codec when there is a ring.
func (c Config) DataConverter() converter.DataConverter {
	if c.Ring == nil {
		return converter.GetDefaultDataConverter()
	}
	return crypt.DataConverter(c.Ring)
}

// FailureConverter is the failure converter that goes with DataConverter:
// with a ring, failure messages and stack traces are encrypted too.
func (c Config) FailureConverter() converter.FailureConverter {
	if c.Ring == nil {
		return temporal.GetDefaultFailureConverter()
	}
	return crypt.FailureConverter(c.DataConverter())
}

// Defaults is the configuration of an empty environment: what Load returns
// when no DOCKET_* variable is set. Tests start from it so that the
// developer's own settings do not leak into them.
func Defaults() Config {
	c, err := parse(env.Options{Environment: map[string]string{}})
	if err != nil {
		// The defaults are constants of this file; a failure is a typo in
		// an envDefault tag, which every test would hit at once.
		panic(fmt.Sprintf("config defaults: %v", err))
	}
	return c
}

// parse reads the configuration from opts' environment (the process's
// when opts leaves it nil).
func parse(opts env.Options) (Config, error) {
	c, err := env.ParseAsWithOptions[Config](opts)
	if err != nil {
		return Config{}, fmt.Errorf("read DOCKET_* settings: %w", err)
	}
	if c.TaskQueue == "" {
		c.TaskQueue = job.TaskQueue
	}
	switch c.GRPCCompression {
	case CompressionAuto, CompressionGzip, CompressionNone:
	default:
		return Config{}, fmt.Errorf("DOCKET_GRPC_COMPRESSION=%q: want auto, gzip or none", c.GRPCCompression)
	}
	for _, o := range c.CORSOrigins {
		if o != "*" && !validOrigin(o) {
			return Config{}, fmt.Errorf("DOCKET_CORS_ORIGINS: %q is not an origin (scheme://host[:port], no path) or *", o)
		}
	}
	if c.CodecAddr != "" && !c.CodecAllowRemote && !loopbackAddr(c.CodecAddr) {
		return Config{}, fmt.Errorf("DOCKET_CODEC_ADDR=%q: the codec listener decrypts without API keys, so it must be a loopback address (or set DOCKET_CODEC_ALLOW_REMOTE=true where the port is reachable from the host's loopback only)", c.CodecAddr)
	}
	switch c.Auth {
	case "", AuthOff:
	default:
		return Config{}, fmt.Errorf("DOCKET_AUTH=%q: want off or nothing (unset: API keys are required except on a loopback address)", c.Auth)
	}
	return c, nil
}

// loopbackAddr reports whether a listen address's host is loopback (an
// empty host listens on every interface).
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// validOrigin reports whether o is a browser origin: an http or https URL
// of only a scheme, a host and maybe a port.
func validOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

// BlobStoreURL is the blob store URL, defaulting to a folder under DataDir.
func (c Config) BlobStoreURL() (string, error) {
	if c.BlobURL != "" {
		return c.BlobURL, nil
	}
	dir, err := filepath.Abs(filepath.Join(c.DataDir, "blobs"))
	if err != nil {
		return "", err
	}
	return "file://" + filepath.ToSlash(dir) + "?create_dir=1&no_tmp_dir=1", nil
}

// Logger returns a JSON slog logger at the configured level, for the
// processes' standard error.
func (c Config) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: c.LogLevel}))
}

// Dial connects to Temporal with the standard TEMPORAL_* settings. identity
// names this process in the Web UI and in job step reports. A lazy client
// connects on first use, so that the API can start (and report itself not
// ready) while Temporal is down.
func (c Config) Dial(logger *slog.Logger, identity string, lazy bool) (client.Client, error) {
	opts, err := c.ClientOptions(logger, identity)
	if err != nil {
		return nil, err
	}
	dial := client.Dial
	if lazy {
		dial = client.NewLazyClient
	}
	tc, err := dial(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %q: %w", addressOf(opts), err)
	}
	return tc, nil
}

// ClientOptions are the options of the clients Dial makes.
func (c Config) ClientOptions(logger *slog.Logger, identity string) (client.Options, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return client.Options{}, fmt.Errorf("read TEMPORAL_* settings: %w", err)
	}
	opts.Logger = tlog.NewStructuredLogger(logger)
	opts.DataConverter, opts.FailureConverter = c.DataConverter(), c.FailureConverter()
	if c.MetricsHandler != nil {
		opts.MetricsHandler = c.MetricsHandler
	}
	if identity != "" {
		opts.Identity = identity
	}
	if c.Compresses(addressOf(opts)) {
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionGzip{}
	} else {
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	opts.Interceptors = append(opts.Interceptors, c.Interceptors...)
	return opts, nil
}

// Namespace is the Temporal namespace Dial connects to (TEMPORAL_NAMESPACE
// or the TOML profile's, through envconfig; "default" otherwise).
func (c Config) Namespace() string {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil || opts.Namespace == "" {
		return "default"
	}
	return opts.Namespace
}

// Compresses says whether calls to the Temporal server at hostPort are gzipped.
func (c Config) Compresses(hostPort string) bool {
	switch c.GRPCCompression {
	case CompressionGzip:
		return true
	case CompressionNone:
		return false
	}
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		host = hostPort
	}
	if host == "localhost" {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err != nil || !ip.IsLoopback()
}

func addressOf(opts client.Options) string {
	if opts.HostPort == "" {
		return client.DefaultHostPort
	}
	return opts.HostPort
}

// Identity names this process for Temporal: role, process id and host.
func Identity(role string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d@%s", role, os.Getpid(), host)
}
