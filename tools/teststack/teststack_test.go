package teststack_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/tools/teststack"
)

// runFlags are the values of a flag of the dev server in scripts/run.sh.
func runFlags(t *testing.T, flag string) []string {
	t.Helper()
	b, err := os.ReadFile("../../scripts/run.sh")
	require.NoError(t, err)
	var out []string
	for _, m := range regexp.MustCompile(`--`+flag+` (\S+)`).FindAllSubmatch(b, -1) {
		out = append(out, string(m[1]))
	}
	require.NotEmpty(t, out, "no --%s in scripts/run.sh", flag)
	return out
}

// Tests run the dev server with make run's dynamic config, so that what
// they see is what a developer's stack does; both have fairness on.
func TestDynamicConfigIsMakeRuns(t *testing.T) {
	var want []string
	for _, v := range runFlags(t, "dynamic-config-value") {
		want = append(want, "--dynamic-config-value", v)
	}
	require.Equal(t, want, teststack.DynamicConfig)
	require.Contains(t, teststack.DynamicConfig, teststack.FairnessConfig)
	require.Equal(t, "matching.enableFairness=true", teststack.FairnessConfig)
}

// Tests register make run's search attributes, and those are Docket's.
func TestSearchAttributesAreMakeRuns(t *testing.T) {
	want := runFlags(t, "search-attribute")
	var got []string
	for _, name := range teststack.SearchAttributes {
		got = append(got, name+"=Keyword")
	}
	require.Equal(t, want, got)
	require.Equal(t, []string{job.StatusSearchAttribute, job.TenantSearchAttribute}, teststack.SearchAttributes)
}
