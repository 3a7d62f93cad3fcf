package bench

import (
	"fmt"
	"slices"
)

// clusterMetricsEnv moves the cluster's metrics listeners (the server's,
// both APIs', both workers') to free ports other than avoid, as
// clusterPorts does for the rest, so that the harness's cluster never
// takes the metrics ports of a `make cluster` (19233, 19080, 19081, 19091,
// 19092 unless moved).
func clusterMetricsEnv(avoid []int) ([]string, error) {
	var got []int
	for len(got) < 5 {
		p, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("pick a metrics port: %w", err)
		}
		if !slices.Contains(got, p) && !slices.Contains(avoid, p) {
			got = append(got, p)
		}
	}
	return []string{
		fmt.Sprintf("DOCKET_CLUSTER_TEMPORAL_METRICS_PORT=%d", got[0]),
		fmt.Sprintf("DOCKET_CLUSTER_API_METRICS_PORTS=%d %d", got[1], got[2]),
		fmt.Sprintf("DOCKET_CLUSTER_WORKER_METRICS_PORTS=%d %d", got[3], got[4]),
	}, nil
}
