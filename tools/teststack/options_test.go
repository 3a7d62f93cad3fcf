package teststack

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// Fairness is the one thing ServerOptions changes in make run's config.
func TestServerOptionsDynamicConfig(t *testing.T) {
	require.Equal(t, DynamicConfig, ServerOptions{Fairness: true}.dynamicConfig())
	off := slices.Clone(DynamicConfig)
	off[len(off)-1] = "matching.enableFairness=false"
	require.Equal(t, off, ServerOptions{}.dynamicConfig())
}
