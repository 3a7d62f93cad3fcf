// Command docket-api serves the HTTP Jobs API on DOCKET_HTTP_ADDR. It keeps
// no state, so replicas can run side by side behind a load balancer.
//
// "docket-api keys new ..." makes an API key instead (see internal/auth), and
// "docket-api keyring new|add FILE" makes or rotates the encryption key
// ring (see internal/crypt), and "docket-api webhook-secret new FILE" the
// server's webhook signing secret (see internal/webhook).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/config"
	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/internal/auth"
	"github.com/docket-dev/docket/internal/crypt"
	"github.com/docket-dev/docket/internal/metrics"
	"github.com/docket-dev/docket/internal/tracing"
	"github.com/docket-dev/docket/internal/webhook"
	"github.com/docket-dev/docket/ocr"
)

func main() {
	// Dispatched before the server's configuration is read: making a key
	// needs no Temporal and no DOCKET_* settings.
	if len(os.Args) > 1 && os.Args[1] == "keys" {
		os.Exit(auth.KeysCommand(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "keyring" {
		os.Exit(crypt.KeyringCommand(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "webhook-secret" {
		os.Exit(webhook.SecretCommand(os.Args[2:], os.Stdout, os.Stderr))
	}
	if err := run(); err != nil {
		slog.Error("api stopped", "error", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	log := cfg.Logger()
	slog.SetDefault(log)
	// Keys first: an API that would serve without them where it must not
	// stops before it dials anything.
	keys, err := auth.Setup(cfg.APIKeysFile, cfg.Auth, cfg.HTTPAddr, log)
	if err != nil {
		return err
	}
	if keys != nil {
		defer keys.Close()
	}
	identity := config.Identity("api")
	tr, err := tracing.Setup(context.Background(), "docket-api", identity)
	if err != nil {
		return err
	}
	// Deferred before the servers', so it runs after them: the spans of
	// the requests that finished during the shutdown are sent too.
	defer flushTraces(tr, log)
	cfg.Interceptors = tr.ClientInterceptors()
	// One registry for the process: the Temporal SDK's metrics of the
	// API's client and the API's own, served by GET /metrics and by
	// DOCKET_METRICS_ADDR.
	reg := metrics.NewRegistry()
	sdkMetrics, stopSDKMetrics := metrics.NewTemporal(reg, log)
	defer stopSDKMetrics.Close()
	cfg.MetricsHandler = sdkMetrics
	c, err := cfg.Dial(log, identity, true)
	if err != nil {
		return err
	}
	defer c.Close()

	blobURL, err := cfg.BlobStoreURL()
	if err != nil {
		return err
	}
	docs, err := documents.Open(context.Background(), blobURL)
	if err != nil {
		return err
	}
	defer docs.Close()
	// The API counts pages at upload when poppler is there; without it
	// uploads still work and the count is left out.
	docs.Engine = &ocr.Engine{}
	docs.MaxPages = cfg.MaxPages
	docs.Ring = cfg.Ring

	srv := api.New(c, cfg, docs, log)
	srv.Keys = keys
	srv.Tracing = tr
	srv.Metrics = metrics.NewHTTP(reg, cfg.MetricsTenantLabels)
	hs := api.NewHTTPServer(cfg.HTTPAddr, srv.Handler())
	hs.RegisterOnShutdown(srv.CloseStreams)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 3)
	go func() {
		log.Info("api listening", "addr", cfg.HTTPAddr, "task_queue", cfg.TaskQueue)
		if err := hs.ListenAndServe(); err != nil {
			errc <- fmt.Errorf("serve %s: %w", cfg.HTTPAddr, err)
		}
	}()
	servers := []*api.HTTPServer{hs}
	if cfg.CodecAddr != "" {
		// The Web UI's codec endpoint: no API keys (it cannot send one),
		// so config.Load allowed this address only on loopback or when
		// told explicitly.
		cs := api.NewHTTPServer(cfg.CodecAddr, srv.CodecHandler())
		servers = append(servers, cs)
		go func() {
			log.Warn("codec server listening WITHOUT API keys", "addr", cfg.CodecAddr)
			if err := cs.ListenAndServe(); err != nil {
				errc <- fmt.Errorf("serve the codec on %s: %w", cfg.CodecAddr, err)
			}
		}()
	}
	var metricsServer *http.Server
	if cfg.MetricsAddr != "" {
		// Prometheus's scrape without an API key: bind it where only the
		// scraper reaches (loopback, or a port compose does not publish).
		metricsServer = metrics.Server(cfg.MetricsAddr, reg, log)
		addr, err := metrics.Listen(metricsServer, errc)
		if err != nil {
			return err
		}
		log.Info("metrics listening", "addr", addr)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("api shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("shut down: %w", err)
		}
	}
	if metricsServer != nil {
		if err := metricsServer.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shut down the metrics listener: %w", err)
		}
	}
	return nil
}

// flushTraces sends the spans still buffered, within a bound: an
// unreachable collector must not hold up a stopping API.
func flushTraces(tr *tracing.Tracing, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		log.Warn("traces not sent", "error", err)
	}
}
