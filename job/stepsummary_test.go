package job_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/job"
)

// A step's summary is its name and what the job works on; no query
// string, never more than a list line.
func TestStepSummaryOf(t *testing.T) {
	start, end := int64(1), int64(1000)
	id := strings.Repeat("1f3a", 16)
	for _, tc := range []struct {
		step string
		in   job.Input
		want string
	}{
		{"sum", &job.SumInput{Start: &start, End: &end}, "sum · 1..1000"},
		{"sum", &job.SumInput{}, "sum"},
		{"count_words", &job.WordcountInput{URL: "https://example.org/news?token=s3cret"}, "count words · example.org/news"},
		{"count_words", &job.WordcountInput{URL: "not a url"}, "count words"},
		{job.StepOCR, &job.DocumentInput{DocumentID: id}, "ocr · document 1f3a1f3a1f3a…"},
		{job.StepSummarize, &job.DocumentInput{DocumentID: id}, "summarize · document 1f3a1f3a1f3a…"},
		{job.StepExtract, &job.ExtractInput{DocumentID: id}, "extract · document 1f3a1f3a1f3a…"},
	} {
		require.Equal(t, tc.want, job.StepSummaryOf(tc.step, tc.in))
	}
	long := job.StepSummaryOf("count_words", &job.WordcountInput{URL: "https://example.org/" + strings.Repeat("é", 300)})
	require.LessOrEqual(t, len(long), 200)
	require.True(t, strings.HasPrefix(long, "count words · example.org/"))
}
