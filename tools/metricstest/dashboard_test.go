package metricstest

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
)

// checkDashboard parses every PromQL expression of the dashboard at path
// with Prometheus's own parser and requires each metric it selects to be
// among exposed, the series names scraped from real processes.
func checkDashboard(t *testing.T, path string, exposed map[string]bool) {
	t.Helper()
	p := parser.NewParser(parser.Options{})
	for _, expr := range dashboardExprs(t, path) {
		e, err := p.ParseExpr(expr)
		require.NoError(t, err, "the dashboard's %q does not parse", expr)
		names := selected(e)
		require.NotEmpty(t, names, "%q selects no metric by name", expr)
		for _, n := range names {
			require.True(t, exposed[n], "the dashboard's %q names %s, which no process exposes", expr, n)
		}
	}
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
