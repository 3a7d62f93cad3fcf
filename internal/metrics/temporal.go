package metrics

import (
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// temporalFlush is how often the SDK's metrics move from tally's scope to
// the registry: the only work metrics cost between scrapes (a pass over
// the SDK's few dozen series).
const temporalFlush = time.Second

// temporalBuckets are the buckets of the SDK's latencies, in seconds: from
// a poll answered at once to a long activity, and the 60 s long poll.
var temporalBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// NewTemporal returns the metrics handler of a Temporal client (its
// client.Options.MetricsHandler, which config.Dial sets from
// Config.MetricsHandler): the SDK's own metrics (requests, polls, task
// slots, schedule-to-start and execution latencies, sticky cache) on reg,
// as Prometheus histograms in seconds and counters ending in _total, the
// names of Temporal's documentation and dashboards (temporal_…).
// Close the returned closer after the client, to stop the flushing loop.
//
// The SDK's tags are namespace, task queue, worker type, workflow and
// activity types and poller type: bounded, and never an id. Tag values are
// sanitized as the Temporal server's are (docket-ocr becomes docket_ocr),
// so that the SDK's and the server's task_queue/taskqueue labels match.
func NewTemporal(reg prometheus.Registerer, log *slog.Logger) (client.MetricsHandler, io.Closer) {
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer:              reg,
		DefaultTimerType:        tallyprom.HistogramTimerType,
		DefaultHistogramBuckets: temporalBuckets,
		OnRegisterError: func(err error) {
			// A series the SDK tags two ways; the rest still report.
			if log != nil {
				log.Warn("register a Temporal SDK metric", "error", err)
			}
		},
	})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
		// tally's own series count of itself, which nobody asked for.
		OmitCardinalityMetrics: true,
	}, temporalFlush)
	return sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope)), closer
}
