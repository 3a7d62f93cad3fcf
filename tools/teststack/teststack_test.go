package teststack_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/tools/teststack"
)

// Tests run the dev server with make run's dynamic config, so that what
// they see is what a developer's stack does.
func TestDynamicConfigIsMakeRuns(t *testing.T) {
	b, err := os.ReadFile("../../scripts/run.sh")
	require.NoError(t, err)
	var want []string
	for _, m := range regexp.MustCompile(`--dynamic-config-value (\S+)`).FindAllSubmatch(b, -1) {
		want = append(want, "--dynamic-config-value", string(m[1]))
	}
	require.NotEmpty(t, want)
	require.Equal(t, want, teststack.DynamicConfig)
}
