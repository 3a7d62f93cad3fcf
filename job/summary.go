package job

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Summarizer is implemented by the inputs that can say in one line what
// their job works on. The line is the workflow's static summary, which the
// Temporal Web UI shows in its list and on the job's page instead of a
// bare id. It goes through the data converter (encrypted with the key
// ring, shown by the UI through the codec server), but it is not content:
// it names the job's subject, never a document's text.
type Summarizer interface {
	Summary() string
}

// maxSummary bounds a summary: a line in a list, not a document.
const maxSummary = 200

// SummaryOf is the static summary of a job of type typ with input in.
func SummaryOf(typ string, in Input) string {
	s := typ
	if sm, ok := in.(Summarizer); ok {
		s = sm.Summary()
	}
	for len(s) > maxSummary {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// Summary implements Summarizer: "sum 1..1000000".
func (in *SumInput) Summary() string {
	if in.Start == nil || in.End == nil {
		return TypeSum
	}
	return fmt.Sprintf("%s %d..%d", TypeSum, *in.Start, *in.End)
}

// Summary implements Summarizer: "wordcount · example.org/news", the page
// without its query (which may carry tokens).
func (in *WordcountInput) Summary() string {
	u, err := url.Parse(in.URL)
	if err != nil || u.Host == "" {
		return TypeWordcount
	}
	return TypeWordcount + " · " + u.Host + u.EscapedPath()
}

// shortID is a document id as a person reads it in a list.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12] + "…"
	}
	return id
}

// Summary implements Summarizer: "document · 9f86d081884c… · ocr, entities".
func (in *DocumentInput) Summary() string {
	steps := in.Steps
	if len(steps) == 0 {
		steps = []string{StepOCR, StepEntities, StepSummarize}
	}
	return TypeDocument + " · " + shortID(in.DocumentID) + " · " + strings.Join(steps, ", ")
}

// Summary implements Summarizer: "extract · 9f86d081884c…".
func (in *ExtractInput) Summary() string {
	return TypeExtract + " · " + shortID(in.DocumentID)
}
