package bench

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestABBA(t *testing.T) {
	var got []string
	for i := range 4 {
		got = append(got, abba([]string{"A", "B"}, i)...)
	}
	require.Equal(t, []string{"A", "B", "B", "A", "A", "B", "B", "A"}, got)
	in := []string{"A", "B"}
	abba(in, 1)
	require.Equal(t, []string{"A", "B"}, in, "the sides are not reordered in place")
}
