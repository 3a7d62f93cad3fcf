package steps

import (
	"time"

	"github.com/docket-dev/docket/job"
)

// The step of the wordcount job.
var (
	// CountWords fetches a page and counts its words.
	CountWords = Def[job.WordcountInput, job.WordcountResult]{
		Name:         "count_words",
		StartToClose: 2 * time.Minute,
		Heartbeat:    20 * time.Second,
		Retry:        DefaultRetry,
	}
)
