// Package metricstest checks Docket's Prometheus metrics against real
// tools: it runs the worker and API binaries and a Temporal dev server, runs
// real jobs through them, lints every exposition with promtool, checks the
// Grafana dashboard's PromQL against what the processes expose, and has a
// real Prometheus scrape the stack (`make metrics-check`).
package metricstest
