package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/docket-dev/docket/internal/egress"
)

// Bounds of the sum job's input. They keep (start+end)*count inside int64.
const (
	SumMaxAbs    = 1_000_000_000
	SumMaxWorkMS = 60_000
)

// Bounds of the wordcount job's input.
const (
	WordcountDefaultTop = 10
	WordcountMaxTop     = 100
	WordcountMaxURLLen  = 2048
)

// InputError says which field of a job's input is wrong and why. The API
// turns it into a 422 and the workflow into a non-retryable failure.
type InputError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *InputError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Input is implemented by every job type's input.
type Input interface {
	// Normalize fills defaults and checks every field, returning an
	// *InputError for the first field that is wrong.
	Normalize() error
}

// SumInput is the input of a sum job: the integers from Start to End.
// WorkMS makes the step take that long, heartbeating, so that long jobs,
// cancellation and crashes can be exercised.
type SumInput struct {
	Start  *int64 `json:"start"`
	End    *int64 `json:"end"`
	WorkMS int64  `json:"work_ms,omitempty"`
}

// Normalize implements Input.
func (in *SumInput) Normalize() error {
	switch {
	case in.Start == nil:
		return &InputError{"input.start", "is required"}
	case in.End == nil:
		return &InputError{"input.end", "is required"}
	case *in.Start < -SumMaxAbs || *in.Start > SumMaxAbs:
		return &InputError{"input.start", fmt.Sprintf("must be between %d and %d", -SumMaxAbs, SumMaxAbs)}
	case *in.End < -SumMaxAbs || *in.End > SumMaxAbs:
		return &InputError{"input.end", fmt.Sprintf("must be between %d and %d", -SumMaxAbs, SumMaxAbs)}
	case *in.Start > *in.End:
		return &InputError{"input.end", "must not be less than input.start"}
	case in.WorkMS < 0 || in.WorkMS > SumMaxWorkMS:
		return &InputError{"input.work_ms", fmt.Sprintf("must be between 0 and %d", SumMaxWorkMS)}
	}
	return nil
}

// SumResult is the result of a sum job.
type SumResult struct {
	Sum   int64 `json:"sum"`
	Count int64 `json:"count"`
}

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

// NewInput returns an empty input for a job type, or false if the type is unknown.
func NewInput(jobType string) (Input, bool) {
	switch jobType {
	case TypeSum:
		return &SumInput{}, true
	case TypeWordcount:
		return &WordcountInput{}, true
	case TypeDocument:
		return &DocumentInput{}, true
	case TypeExtract:
		return &ExtractInput{}, true
	}
	return nil, false
}

// DecodeInput decodes raw strictly (unknown fields and trailing data are
// errors) into the input of jobType and normalizes it.
func DecodeInput(jobType string, raw json.RawMessage) (Input, error) {
	in, ok := NewInput(jobType)
	if !ok {
		return nil, &InputError{"type", fmt.Sprintf("unknown job type %q", jobType)}
	}
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, &InputError{"input", "is required"}
	}
	if err := DecodeStrict(raw, in); err != nil {
		return nil, &InputError{"input", err.Error()}
	}
	if err := in.Normalize(); err != nil {
		return nil, err
	}
	return in, nil
}

// DecodeStrict decodes one JSON value into v: object member names must
// match the json tags exactly (not case-insensitively), an object may name
// a member only once, unknown members are errors, and so is anything after
// the value or a null where the value should be. It is the one decoder of
// requests and of every job type's input, so that what the API accepts is
// exactly what it documents; errors name the offending member.
//
// encoding/json matches names case-insensitively and lets the last of
// duplicate names win, so {"TYPE":"sum"} or {"type":"a","type":"b"} were
// accepted. encoding/json/v2 decodes strictly but Go 1.26 ships it only
// behind GOEXPERIMENT=jsonv2; github.com/go-json-experiment/json is the
// same package as a module, kept by its authors, and switching to
// encoding/json/v2 is an import change once it is standard. Its checks of
// duplicate names cover the whole document, including members captured as
// json.RawMessage (the request's input) and decoded later with their type.
func DecodeStrict(data []byte, v any) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return errors.New("the JSON value is null, not an object")
	}
	return jsonv2.Unmarshal(data, v, jsonv2.RejectUnknownMembers(true))
}
