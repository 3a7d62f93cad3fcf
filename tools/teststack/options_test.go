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

// DBFile adds make run's SQLite pragmas to the arguments (the SDK passes
// --db-filename itself); without it the server stays in memory, as before.
func TestServerOptionsDBFile(t *testing.T) {
	o := ServerOptions{Fairness: true}
	require.Equal(t, DynamicConfig, o.extraArgs())
	o.DBFile = "/tmp/x.db"
	require.Equal(t, append(slices.Clone(DynamicConfig), "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=NORMAL"), o.extraArgs())
}
