package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/job"
)

// Every kind has a recording, so `make histories` fails before it starts
// when a new kind has none; without the extract recordings, extract is
// named.
func TestRecordingsCoverEveryKind(t *testing.T) {
	require.Empty(t, uncovered(recordings))
	var without []recording
	for _, r := range recordings {
		if !strings.HasPrefix(r.name, job.TypeExtract+"-") {
			without = append(without, r)
		}
	}
	require.Equal(t, []string{job.TypeExtract}, uncovered(without))
}
