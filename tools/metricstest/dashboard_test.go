package metricstest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
)

// dashboardProblems parses every PromQL expression of the dashboard at
// path with Prometheus's own parser and lists what is wrong: an
// expression that does not parse, selects no metric by name, or names a
// metric not among exposed (the series names scraped from real processes).
func dashboardProblems(t *testing.T, path string, exposed map[string]bool) []string {
	t.Helper()
	p := parser.NewParser(parser.Options{})
	var problems []string
	for _, expr := range dashboardExprs(t, path) {
		e, err := p.ParseExpr(expr)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%q does not parse: %v", expr, err))
			continue
		}
		names := selected(e)
		if len(names) == 0 {
			problems = append(problems, fmt.Sprintf("%q selects no metric by name", expr))
		}
		for _, n := range names {
			if !exposed[n] {
				problems = append(problems, fmt.Sprintf("%q names %s, which no process exposes", expr, n))
			}
		}
	}
	return problems
}

// selected lists the metric names e's selectors select.
func selected(e parser.Expr) []string {
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == "__name__" {
					name = m.Value
				}
			}
			if name != "" && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
		return nil
	})
	return out
}

// The checker itself: an unknown name and a syntax error fail it.
func TestSelected(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	e, err := p.ParseExpr(`sum by (type) (rate(docket_jobs_started_total[1m])) / on() group_left sum(up{job="x"})`)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"docket_jobs_started_total", "up"}, selected(e))
	_, err = p.ParseExpr(`rate(docket_jobs_started_total[1m]`)
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "unclosed") || strings.Contains(err.Error(), "unexpected"), err.Error())
}

// The dashboard check bites: a syntax error, a selector without a name and
// an unknown metric are each a problem, and a name set without one of the
// real dashboard's metrics fails the real dashboard.
func TestDashboardProblems(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dashboard.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"panels": [
		{"type": "row", "panels": [{"targets": [{"expr": "rate(docket_jobs_started_total[$__rate_interval])"}]}]},
		{"targets": [{"expr": "sum(rate(docket_jobs_started_total[5m]"}, {"expr": "{job=\"x\"}"}, {"expr": "docket_no_such_metric"}]}
	]}`), 0o644))
	problems := dashboardProblems(t, path, map[string]bool{"docket_jobs_started_total": true})
	require.Len(t, problems, 3, "%v", problems)
	require.Contains(t, problems[0], "does not parse")
	require.Contains(t, problems[1], "selects no metric")
	require.Contains(t, problems[2], "docket_no_such_metric")

	// The real dashboard, against every name it uses but one.
	names := map[string]bool{}
	p := parser.NewParser(parser.Options{})
	for _, expr := range dashboardExprs(t, dashboardPath(t)) {
		e, err := p.ParseExpr(expr)
		require.NoError(t, err)
		for _, n := range selected(e) {
			names[n] = true
		}
	}
	require.Empty(t, dashboardProblems(t, dashboardPath(t), names))
	delete(names, "approximate_backlog_count")
	require.NotEmpty(t, dashboardProblems(t, dashboardPath(t), names))
}
