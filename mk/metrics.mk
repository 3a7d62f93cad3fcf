# Prometheus metrics, checked with real tools:
#
#   make metrics-check   builds the worker and the API, runs them with
#                        DOCKET_METRICS_ADDR against a dev server with its
#                        metrics port, runs real jobs, lints every
#                        exposition with promtool, checks the Grafana
#                        dashboard's PromQL against what they expose, and has
#                        Debian's prometheus scrape them and answer queries
#                        (tools/metricstest; `make test` runs it too)

.PHONY: metrics-check

## metrics-check: promtool on every exposition, the dashboard's PromQL, a real Prometheus scraping a real stack.
metrics-check: tools deps
	go test $(GO_TEST_FLAGS) -v -run 'TestMetrics|TestSelected|TestDashboardProblems' ./tools/metricstest/
