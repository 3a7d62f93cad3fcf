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
