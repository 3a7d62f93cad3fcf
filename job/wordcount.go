package job

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/docket-dev/docket/internal/egress"
)

// TypeWordcount is the job type that fetches a page and counts its words.
const TypeWordcount = "wordcount"

// Bounds of the wordcount job's input.
const (
	WordcountDefaultTop = 10
	WordcountMaxTop     = 100
	WordcountMaxURLLen  = 2048
)

// WordcountInput is the input of a wordcount job: the page to fetch and how
// many of its most frequent words to return.
type WordcountInput struct {
	URL string `json:"url"`
	Top int    `json:"top,omitempty"`
}

// Normalize implements Input.
func (in *WordcountInput) Normalize() error {
	if in.Top == 0 {
		in.Top = WordcountDefaultTop
	}
	if in.URL == "" {
		return &InputError{"input.url", "is required"}
	}
	if len(in.URL) > WordcountMaxURLLen {
		return &InputError{"input.url", fmt.Sprintf("must be at most %d characters", WordcountMaxURLLen)}
	}
	u, err := url.Parse(in.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &InputError{"input.url", "must be an absolute http or https URL"}
	}
	if u.User != nil {
		return &InputError{"input.url", "must not carry credentials"}
	}
	// Only what the URL itself shows is checked here. Whether its address
	// may be fetched depends on the worker's DOCKET_FETCH_ALLOW_HOSTS,
	// which the API does not know, so the worker's egress guard decides.
	if err := egress.CheckURL(in.URL); err != nil {
		return &InputError{"input.url", strings.TrimPrefix(err.Error(), egress.ErrInvalidURL.Error()+": ")}
	}
	if in.Top < 1 || in.Top > WordcountMaxTop {
		return &InputError{"input.top", fmt.Sprintf("must be between 1 and %d", WordcountMaxTop)}
	}
	return nil
}

// WordCount is one word and how often it occurs.
type WordCount struct {
	Word  string `json:"word"`
	Count int    `json:"count"`
}

// WordcountResult is the result of a wordcount job.
type WordcountResult struct {
	Words  int         `json:"words"`
	Unique int         `json:"unique"`
	Top    []WordCount `json:"top"`
}
