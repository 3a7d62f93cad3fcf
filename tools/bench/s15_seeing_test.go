package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/tracing/tracingtest"
)

func TestStartScraper(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		status  int
		wantErr string
	}{
		{name: "docket's metrics", body: "# TYPE docket_jobs_started_total counter\ndocket_jobs_started_total{type=\"sum\"} 3\n", status: http.StatusOK},
		{name: "not docket's", body: "# TYPE go_goroutines gauge\ngo_goroutines 8\n", status: http.StatusOK, wantErr: "no docket_ metric"},
		{name: "an error status", body: "nope", status: http.StatusServiceUnavailable, wantErr: "503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits := make(chan struct{}, 100)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				hits <- struct{}{}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			s, err := startScraper(context.Background(), 10*time.Millisecond, srv.URL)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			// The check's scrape, then the loop's: when its third has
			// begun, its first two have been counted.
			for range 4 {
				<-hits
			}
			s.stop()
			s.stop() // a second stop is harmless
			ok, failed, bytes := s.counts()
			require.GreaterOrEqual(t, ok, int64(2))
			require.Zero(t, failed)
			require.Equal(t, ok*int64(len(tt.body)), bytes)
		})
	}
}

func TestCountSpans(t *testing.T) {
	got := countSpans([]tracingtest.Span{
		{TraceID: "t1", Service: serviceAPI},
		{TraceID: "t1", Service: serviceWorker},
		{TraceID: "t1", Service: serviceWorker},
		{TraceID: "t2", Service: serviceAPI},
	})
	require.Equal(t, spanCount{total: 4, traces: 2, byService: map[string]int{serviceAPI: 2, serviceWorker: 2}}, got)
}

func TestBucketsOf(t *testing.T) {
	children := []cpuShare{
		{"net/http.(*conn).serve", 40},
		{"github.com/docket-dev/docket/job.DecodeStrict", 2},
		{"github.com/docket-dev/docket/api.(*Server).readBody", 3},
		// A method value repeats its method's line and is not counted.
		{"github.com/docket-dev/docket/api.(*Server).createJob-fm", 99},
		{"github.com/docket-dev/docket/api.(*Server).createJob", 30},
	}
	got := map[string]float64{}
	for _, b := range bucketsOf(children) {
		got[b.what] = b.pct
	}
	require.Len(t, got, len(apiBuckets))
	require.InDelta(t, 40, got["the whole request (net/http's connection goroutine)"], 1e-9)
	require.InDelta(t, 30, got["… … POST /jobs handler (createJob)"], 1e-9)
	// Nested functions of one bucket: the largest counts, not their sum.
	require.InDelta(t, 3, got["… … … read body, strict JSON decode"], 1e-9)
	require.Zero(t, got["GC (background mark workers)"])
}

// TestAcceptPathPerJob: CPU per accepted start, and none without starts.
func TestAcceptPathPerJob(t *testing.T) {
	p := &acceptPath{lat: &Sample{}, cpu: map[string]time.Duration{roleAPI: 10 * time.Millisecond, roleServer: 40 * time.Millisecond}}
	for range 10 {
		p.lat.Add(time.Millisecond)
	}
	require.InDelta(t, 1.0, p.perJob(roleAPI), 1e-9)
	require.InDelta(t, 5.0, p.total(), 1e-9)
	require.Zero(t, (&acceptPath{lat: &Sample{}}).perJob(roleAPI))
}

// TestAcceptExplain: the reading quotes this run's decomposition, and says
// the API's own code is too small to fix only when it is.
func TestAcceptExplain(t *testing.T) {
	path := func(name string, cpu map[string]time.Duration) *acceptPath {
		p := &acceptPath{name: name, lat: &Sample{}, cpu: cpu}
		for range 100 {
			p.lat.Add(time.Millisecond)
		}
		return p
	}
	mk := func(handlerPct float64) *acceptProf {
		return &acceptProf{
			paths: []*acceptPath{
				path(pathAPI, map[string]time.Duration{roleAPI: 100 * time.Millisecond, roleServer: 600 * time.Millisecond, roleBench: 50 * time.Millisecond}),
				path("direct SDK", map[string]time.Duration{roleServer: 500 * time.Millisecond, roleBench: 80 * time.Millisecond}),
				path(pathSDKDocket, map[string]time.Duration{roleServer: 600 * time.Millisecond, roleBench: 80 * time.Millisecond}),
			},
			buckets: []bucketShare{{key: "handler", pct: handlerPct}, {key: "execute", pct: 20}},
		}
	}
	got := mk(25).explain(nil)
	// 7.50 ms against 5.80: the server +1.00 (Docket's options +1.00),
	// the API 1.00, this program -0.30.
	require.Contains(t, got, "7.50 ms in all per accepted start, the direct SDK 5.80")
	require.Contains(t, got, "server's +1.00")
	require.Contains(t, got, "this program's -0.30")
	require.Contains(t, got, "No step of the API's own is the cause")
	require.Contains(t, mk(100).explain(nil), "worth a look")
}

func TestSpread(t *testing.T) {
	require.Zero(t, spread(nil))
	require.InDelta(t, 0.5, spread([]float64{6.1, 6.5, 6.0, 6.3}), 1e-9)
}
