package job

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// Subjecter is implemented by the inputs that can say what their job works
// on without naming the kind: the subject of each step's summary.
type Subjecter interface {
	Subject() string
}

// StepSummaryOf is the summary of step (an activity name) of a job whose
// input is in: the step's name as words, then what the job works on
// ("ocr · document 9f86d081884c…", "count words · example.org/news").
// The Temporal Web UI shows it on the step's activity. It is known before
// the step runs (no page counts), and like SummaryOf it names the job's
// subject, never content.
func StepSummaryOf(step string, in any) string {
	s := strings.ReplaceAll(step, "_", " ")
	if sj, ok := in.(Subjecter); ok {
		if sub := sj.Subject(); sub != "" {
			s += " · " + sub
		}
	}
	for len(s) > maxSummary {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// Subject implements Subjecter: "1..1000000".
func (in *SumInput) Subject() string {
	if in.Start == nil || in.End == nil {
		return ""
	}
	return strings.TrimPrefix(in.Summary(), TypeSum+" ")
}

// Subject implements Subjecter: "example.org/news", the page without its
// query (which may carry tokens).
func (in *WordcountInput) Subject() string {
	u, err := url.Parse(in.URL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Host + u.EscapedPath()
}

// Subject implements Subjecter: "document 9f86d081884c…".
func (in *DocumentInput) Subject() string { return "document " + shortID(in.DocumentID) }

// Subject implements Subjecter: "document 9f86d081884c…".
func (in *ExtractInput) Subject() string { return "document " + shortID(in.DocumentID) }
