package bench

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// The main server's settings are reported as make run's: they must be the
// ones scripts/run.sh passes.
func TestMainServerIsMakeRuns(t *testing.T) {
	b, err := os.ReadFile("../../scripts/run.sh")
	require.NoError(t, err)
	flags := func(name string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`--`+name+` (\S+)`).FindAllSubmatch(b, -1) {
			out = append(out, string(m[1]))
		}
		return out
	}
	require.Equal(t, flags("dynamic-config-value"), tuningFast.Values)
	require.Equal(t, flags("sqlite-pragma"), storageFileWAL.Pragmas)
}

// Scenario 7's fairness-off server differs from make run's only in
// fairness.
func TestUnfairTuningIsMakeRunsWithoutFairness(t *testing.T) {
	require.Contains(t, tuningFair.Values, "matching.enableFairness=true")
	require.Len(t, tuningUnfair.Values, len(tuningFast.Values))
	require.Contains(t, tuningUnfair.Values, "matching.enableFairness=false")
	require.NotContains(t, tuningUnfair.Values, "matching.enableFairness=true")
}

// The stack's readiness probe does not decode the result of a worker with
// a key ring: hasEnv tells such a worker's environment.
func TestHasEnv(t *testing.T) {
	require.True(t, hasEnv([]string{"A=1", envEncryptionKeys + "=/x/ring.json"}, envEncryptionKeys))
	require.False(t, hasEnv([]string{envEncryptionKeys + "="}, envEncryptionKeys), "empty is unset, as config reads it")
	require.False(t, hasEnv([]string{envEncryptionKeys + "_X=1", "X" + envEncryptionKeys + "=1"}, envEncryptionKeys))
	require.False(t, hasEnv(nil, envEncryptionKeys))
}
