package bench

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Sections and targets go in the order of their scenario numbers: 10
// after 9, not between 1 and 2 where text order puts it.
func TestScenarioOrder(t *testing.T) {
	secs := []*Section{{Title: "Scenario 10: cost of encryption", N: 10}, {Title: "Scenario 1: accept path", N: 1}, {Title: "Scenario 9: cost of auth", N: 9}, {Title: "Scenario 2: trivial jobs end to end", N: 2}}
	sortSections(secs)
	var titles []string
	for _, s := range secs {
		titles = append(titles, s.Title[:strings.Index(s.Title, ":")])
	}
	require.Equal(t, []string{"Scenario 1", "Scenario 2", "Scenario 9", "Scenario 10"}, titles)

	b := &Bench{}
	for _, n := range []string{"10", "2", "9", "1", "10"} {
		b.target(n, "target of "+n, "", true)
	}
	out := render(summary(b))
	var order []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, " | "); len(f) > 1 && strings.HasPrefix(f[1], "target of") {
			order = append(order, strings.TrimPrefix(f[0], "| "))
		}
	}
	require.Equal(t, []string{"1", "2", "9", "10", "10"}, order)
	require.Negative(t, byScenario("9", "10"))
	require.Negative(t, byScenario("10", "x"))
	require.Positive(t, byScenario("x", "1"))
	require.Zero(t, byScenario("x", "x"))
}
