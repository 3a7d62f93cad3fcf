package job_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/job"
)

// Each kind says in one line what its job works on; no query string, and
// never more than a list line.
func TestSummaryOf(t *testing.T) {
	start, end := int64(1), int64(1000000)
	id := strings.Repeat("9f", 32)
	for _, tc := range []struct {
		typ  string
		in   job.Input
		want string
	}{
		{job.TypeSum, &job.SumInput{Start: &start, End: &end}, "sum 1..1000000"},
		{job.TypeWordcount, &job.WordcountInput{URL: "https://example.org/news/today?token=s3cret"}, "wordcount · example.org/news/today"},
		{job.TypeDocument, &job.DocumentInput{DocumentID: id, Steps: []string{"ocr", "entities"}}, "document · 9f9f9f9f9f9f… · ocr, entities"},
		{job.TypeDocument, &job.DocumentInput{DocumentID: id}, "document · 9f9f9f9f9f9f… · ocr, entities, summarize"},
		{job.TypeExtract, &job.ExtractInput{DocumentID: id}, "extract · 9f9f9f9f9f9f…"},
	} {
		require.Equal(t, tc.want, job.SummaryOf(tc.typ, tc.in))
	}
	long := job.SummaryOf(job.TypeWordcount, &job.WordcountInput{URL: "https://example.org/" + strings.Repeat("é", 300)})
	require.LessOrEqual(t, len(long), 200)
	require.True(t, strings.HasPrefix(long, "wordcount · example.org/"))
}
