package job_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/workflows"
)

func i64(v int64) *int64 { return &v }

// requireInputError asserts that err is (or wraps) a *job.InputError for field.
func requireInputError(t *testing.T, err error, field string) *job.InputError {
	t.Helper()
	require.Error(t, err)
	var ie *job.InputError
	require.True(t, errors.As(err, &ie), "error %v (%T) is not a *job.InputError", err, err)
	require.Equal(t, field, ie.Field, "error: %v", err)
	require.NotEmpty(t, ie.Message)
	return ie
}

func TestInputErrorError(t *testing.T) {
	require.Equal(t, "input.start: is required", (&job.InputError{Field: "input.start", Message: "is required"}).Error())
	require.Equal(t, "bad input", (&job.InputError{Message: "bad input"}).Error())
}

func TestSumInputNormalize(t *testing.T) {
	const m = job.SumMaxAbs
	tests := []struct {
		name      string
		in        job.SumInput
		wantField string // "" means valid
	}{
		{"valid small range", job.SumInput{Start: i64(1), End: i64(10)}, ""},
		{"single element", job.SumInput{Start: i64(7), End: i64(7)}, ""},
		{"negative range", job.SumInput{Start: i64(-10), End: i64(-1)}, ""},
		{"widest range", job.SumInput{Start: i64(-m), End: i64(m)}, ""},
		{"zero to max", job.SumInput{Start: i64(0), End: i64(m)}, ""},
		{"work_ms zero", job.SumInput{Start: i64(0), End: i64(1), WorkMS: 0}, ""},
		{"work_ms max", job.SumInput{Start: i64(0), End: i64(1), WorkMS: job.SumMaxWorkMS}, ""},

		{"missing start", job.SumInput{End: i64(1)}, "input.start"},
		{"missing end", job.SumInput{Start: i64(1)}, "input.end"},
		{"missing both reports start first", job.SumInput{}, "input.start"},
		{"start below min", job.SumInput{Start: i64(-m - 1), End: i64(0)}, "input.start"},
		{"start above max", job.SumInput{Start: i64(m + 1), End: i64(m + 2)}, "input.start"},
		{"end above max", job.SumInput{Start: i64(0), End: i64(m + 1)}, "input.end"},
		{"end below min", job.SumInput{Start: i64(-m), End: i64(-m - 1)}, "input.end"},
		{"start greater than end", job.SumInput{Start: i64(5), End: i64(4)}, "input.end"},
		{"work_ms negative", job.SumInput{Start: i64(0), End: i64(1), WorkMS: -1}, "input.work_ms"},
		{"work_ms above max", job.SumInput{Start: i64(0), End: i64(1), WorkMS: job.SumMaxWorkMS + 1}, "input.work_ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			err := in.Normalize()
			if tt.wantField == "" {
				require.NoError(t, err)
				// Normalize must not rewrite valid values.
				require.Equal(t, *tt.in.Start, *in.Start)
				require.Equal(t, *tt.in.End, *in.End)
				require.Equal(t, tt.in.WorkMS, in.WorkMS)
				return
			}
			requireInputError(t, err, tt.wantField)
			require.True(t, strings.HasPrefix(err.Error(), tt.wantField+": "), "error %q should name the field", err)
		})
	}
}

func TestWordcountInputNormalize(t *testing.T) {
	longURL := func(n int) string {
		const prefix = "https://example.com/"
		return prefix + strings.Repeat("a", n-len(prefix))
	}
	require.Len(t, longURL(job.WordcountMaxURLLen), job.WordcountMaxURLLen)

	tests := []struct {
		name      string
		in        job.WordcountInput
		wantField string // "" means valid
		wantTop   int    // checked when valid
		wantMsg   string // substring of the message, when set
	}{
		{"default top", job.WordcountInput{URL: "https://example.com/"}, "", job.WordcountDefaultTop, ""},
		{"explicit top kept", job.WordcountInput{URL: "http://example.com/a?b=c#d", Top: 3}, "", 3, ""},
		{"top 1", job.WordcountInput{URL: "http://example.com", Top: 1}, "", 1, ""},
		{"top max", job.WordcountInput{URL: "http://example.com", Top: job.WordcountMaxTop}, "", job.WordcountMaxTop, ""},
		{"upper-case scheme", job.WordcountInput{URL: "HTTPS://example.com/"}, "", job.WordcountDefaultTop, ""},
		{"port 65535", job.WordcountInput{URL: "http://example.com:65535/"}, "", job.WordcountDefaultTop, ""},
		{"port 1", job.WordcountInput{URL: "https://example.com:1/"}, "", job.WordcountDefaultTop, ""},
		{"empty port", job.WordcountInput{URL: "http://example.com:/"}, "", job.WordcountDefaultTop, ""},
		{"ip literal host", job.WordcountInput{URL: "http://127.0.0.1:8080/"}, "", job.WordcountDefaultTop, ""},
		{"url at max length", job.WordcountInput{URL: longURL(job.WordcountMaxURLLen)}, "", job.WordcountDefaultTop, ""},

		{"top above max", job.WordcountInput{URL: "http://example.com", Top: job.WordcountMaxTop + 1}, "input.top", 0, ""},
		{"top negative", job.WordcountInput{URL: "http://example.com", Top: -1}, "input.top", 0, ""},
		{"url missing", job.WordcountInput{}, "input.url", 0, "required"},
		{"url too long", job.WordcountInput{URL: longURL(job.WordcountMaxURLLen + 1)}, "input.url", 0, "at most"},
		{"ftp scheme", job.WordcountInput{URL: "ftp://example.com/file"}, "input.url", 0, "http"},
		{"file scheme", job.WordcountInput{URL: "file:///etc/passwd"}, "input.url", 0, "http"},
		{"javascript scheme", job.WordcountInput{URL: "javascript:alert(1)"}, "input.url", 0, "http"},
		{"no scheme", job.WordcountInput{URL: "example.com/page"}, "input.url", 0, "http"},
		{"relative path", job.WordcountInput{URL: "/page"}, "input.url", 0, "http"},
		{"scheme without host", job.WordcountInput{URL: "http://"}, "input.url", 0, "http"},
		{"scheme with empty host and path", job.WordcountInput{URL: "http:///page"}, "input.url", 0, "http"},
		{"unparsable", job.WordcountInput{URL: "http://exa mple.com/%zz"}, "input.url", 0, ""},
		{"user in url", job.WordcountInput{URL: "http://user@example.com/"}, "input.url", 0, "credentials"},
		{"user and password in url", job.WordcountInput{URL: "https://user:secret@example.com/"}, "input.url", 0, "credentials"},
		{"empty userinfo", job.WordcountInput{URL: "https://@example.com/"}, "input.url", 0, "credentials"},
		// The port is the one address check the API can make: it does not
		// know the worker's allow-list, so IP literals are the worker's call.
		{"port 99999", job.WordcountInput{URL: "http://example.com:99999/"}, "input.url", 0, "between 1 and 65535"},
		{"port 65536", job.WordcountInput{URL: "http://example.com:65536/"}, "input.url", 0, "between 1 and 65535"},
		{"port 0", job.WordcountInput{URL: "http://example.com:0/"}, "input.url", 0, "between 1 and 65535"},
		{"port huge", job.WordcountInput{URL: "http://example.com:99999999999999999999/"}, "input.url", 0, "between 1 and 65535"},
		{"port on ipv6 literal", job.WordcountInput{URL: "http://[::1]:70000/"}, "input.url", 0, "between 1 and 65535"},
		{"port not numeric", job.WordcountInput{URL: "http://example.com:http/"}, "input.url", 0, ""},
		{"port negative", job.WordcountInput{URL: "http://example.com:-1/"}, "input.url", 0, ""},
		{"bad url reported before bad top", job.WordcountInput{URL: "ftp://x", Top: 1000}, "input.url", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			err := in.Normalize()
			if tt.wantField == "" {
				require.NoError(t, err)
				require.Equal(t, tt.wantTop, in.Top)
				require.Equal(t, tt.in.URL, in.URL, "Normalize must not rewrite the URL")
				return
			}
			ie := requireInputError(t, err, tt.wantField)
			if tt.wantMsg != "" {
				require.Contains(t, ie.Message, tt.wantMsg)
			}
			if tt.in.URL != "" {
				require.NotContains(t, err.Error(), "secret", "the error must not echo credentials")
			}
		})
	}
}

// Every kind's input is a fresh pointer to the type its workflow takes, and
// an unknown name is no kind.
func TestKindsLookup(t *testing.T) {
	require.Equal(t, []string{job.TypeSum, job.TypeWordcount, job.TypeDocument, job.TypeExtract}, workflows.Kinds.Names())
	for _, k := range workflows.Kinds {
		got, ok := workflows.Kinds.Lookup(k.Name)
		require.True(t, ok, k.Name)
		in := got.NewInput()
		require.Equal(t, reflect.PointerTo(k.InputType()), reflect.TypeOf(in), k.Name)
		require.NotSame(t, in, got.NewInput(), "%s: each input must be new", k.Name)
		require.NotEmpty(t, k.Steps, k.Name)
	}
	in := workflows.Kinds[0].NewInput()
	require.IsType(t, &job.SumInput{}, in)
	require.Equal(t, reflect.TypeFor[job.SumResult](), workflows.Kinds[0].ResultType())
	_, ok := workflows.Kinds.Lookup("nope")
	require.False(t, ok)
	_, ok = workflows.Kinds.Lookup("SUM")
	require.False(t, ok, "kind names are case-sensitive")
}

func TestDecodeInputValid(t *testing.T) {
	in, err := workflows.Kinds.Decode(job.TypeSum, json.RawMessage(`{"start": -3, "end": 4, "work_ms": 250}`))
	require.NoError(t, err)
	sum, ok := in.(*job.SumInput)
	require.True(t, ok, "got %T", in)
	require.Equal(t, int64(-3), *sum.Start)
	require.Equal(t, int64(4), *sum.End)
	require.Equal(t, int64(250), sum.WorkMS)

	// Surrounding whitespace is not trailing data.
	in, err = workflows.Kinds.Decode(job.TypeSum, json.RawMessage(" \n\t{\"start\":0,\"end\":0}\n "))
	require.NoError(t, err)
	sum = in.(*job.SumInput)
	require.Equal(t, int64(0), *sum.Start)
	require.Equal(t, int64(0), *sum.End)
	require.Zero(t, sum.WorkMS)

	// Decoding normalizes: the default top is filled.
	in, err = workflows.Kinds.Decode(job.TypeWordcount, json.RawMessage(`{"url":"https://example.com/"}`))
	require.NoError(t, err)
	wc, ok := in.(*job.WordcountInput)
	require.True(t, ok, "got %T", in)
	require.Equal(t, "https://example.com/", wc.URL)
	require.Equal(t, job.WordcountDefaultTop, wc.Top)

	in, err = workflows.Kinds.Decode(job.TypeWordcount, json.RawMessage(`{"url":"https://example.com/","top":7}`))
	require.NoError(t, err)
	require.Equal(t, 7, in.(*job.WordcountInput).Top)
}

func TestDecodeInputErrors(t *testing.T) {
	tests := []struct {
		name      string
		jobType   string
		raw       string
		nilRaw    bool
		wantField string
	}{
		{"unknown type", "nope", `{"start":1,"end":2}`, false, "type"},
		{"empty type", "", `{"start":1,"end":2}`, false, "type"},
		{"type is case-sensitive", "SUM", `{"start":1,"end":2}`, false, "type"},
		{"unknown type wins over missing input", "nope", ``, true, "type"},

		{"nil input", job.TypeSum, ``, true, "input"},
		{"empty input", job.TypeSum, ``, false, "input"},
		{"blank input", job.TypeWordcount, " \n\t ", false, "input"},
		{"null input", job.TypeSum, `null`, false, "input"},
		{"null input with spaces", job.TypeWordcount, "  null\n", false, "input"},

		{"unknown field sum", job.TypeSum, `{"start":1,"end":2,"extra":true}`, false, "input"},
		{"unknown field wordcount", job.TypeWordcount, `{"url":"https://example.com/","depth":2}`, false, "input"},
		{"trailing object", job.TypeSum, `{"start":1,"end":2}{"start":3}`, false, "input"},
		{"trailing object after space", job.TypeSum, `{"start":1,"end":2} {}`, false, "input"},
		{"trailing garbage", job.TypeSum, `{"start":1,"end":2}x`, false, "input"},
		{"trailing null", job.TypeSum, `{"start":1,"end":2} null`, false, "input"},
		{"trailing number", job.TypeWordcount, `{"url":"https://example.com/"} 1`, false, "input"},
		{"trailing close brace", job.TypeSum, `{"start":1,"end":2}}`, false, "input"},
		{"truncated json", job.TypeSum, `{"start":1,"end":`, false, "input"},
		{"array", job.TypeSum, `[1,2]`, false, "input"},
		{"string", job.TypeWordcount, `"https://example.com/"`, false, "input"},
		{"number", job.TypeSum, `42`, false, "input"},
		{"wrong field type", job.TypeSum, `{"start":"1","end":2}`, false, "input"},
		{"fractional number", job.TypeSum, `{"start":1.5,"end":2}`, false, "input"},
		{"overflowing number", job.TypeSum, `{"start":1,"end":99999999999999999999}`, false, "input"},
		{"top as string", job.TypeWordcount, `{"url":"https://example.com/","top":"3"}`, false, "input"},
		{"name in upper case", job.TypeSum, `{"START":1,"end":2}`, false, "input"},
		{"name in mixed case", job.TypeWordcount, `{"Url":"https://example.com/"}`, false, "input"},
		{"duplicate name", job.TypeSum, `{"start":1,"end":2,"end":3}`, false, "input"},
		{"duplicate nested name", job.TypeDocument, `{"document_id":"` + strings.Repeat("a", 64) + `","summarize":{"max_words":20,"max_words":30}}`, false, "input"},

		// Well-formed JSON whose values are wrong: the Normalize field is reported.
		{"empty object sum", job.TypeSum, `{}`, false, "input.start"},
		{"explicit null start", job.TypeSum, `{"start":null,"end":2}`, false, "input.start"},
		{"missing end", job.TypeSum, `{"start":1}`, false, "input.end"},
		{"start after end", job.TypeSum, `{"start":2,"end":1}`, false, "input.end"},
		{"start out of bounds", job.TypeSum, `{"start":-1000000001,"end":1}`, false, "input.start"},
		{"work_ms too large", job.TypeSum, `{"start":1,"end":2,"work_ms":60001}`, false, "input.work_ms"},
		{"empty object wordcount", job.TypeWordcount, `{}`, false, "input.url"},
		{"bad scheme", job.TypeWordcount, `{"url":"gopher://example.com/"}`, false, "input.url"},
		{"top too large", job.TypeWordcount, `{"url":"https://example.com/","top":101}`, false, "input.top"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw json.RawMessage
			if !tt.nilRaw {
				raw = json.RawMessage(tt.raw)
			}
			in, err := workflows.Kinds.Decode(tt.jobType, raw)
			requireInputError(t, err, tt.wantField)
			require.Nil(t, in)
		})
	}
}

func TestDecodeStrict(t *testing.T) {
	var v struct {
		A int `json:"a"`
	}
	require.NoError(t, job.DecodeStrict([]byte(` {"a": 1} `), &v))
	require.Equal(t, 1, v.A)

	require.Error(t, job.DecodeStrict([]byte(`{"a":1,"b":2}`), &v), "unknown field")
	require.Error(t, job.DecodeStrict([]byte(`{"a":1} {"a":2}`), &v), "second value")
	require.Error(t, job.DecodeStrict([]byte(`{"a":1} ]`), &v), "trailing delimiter")
	require.Error(t, job.DecodeStrict([]byte(``), &v), "empty")
}

// Names match exactly and once: encoding/json's case-insensitive matching
// and last-duplicate-wins would accept requests the API does not document.
func TestDecodeStrictNames(t *testing.T) {
	type inner struct {
		B int `json:"b"`
	}
	type target struct {
		A   int             `json:"a"`
		In  *inner          `json:"in,omitempty"`
		Raw json.RawMessage `json:"raw"`
		Key string          `json:"-"`
	}
	tests := []struct {
		name, data string
		wantErr    string // "" for success
	}{
		{"exact", `{"a":1,"in":{"b":2},"raw":{"x":1}}`, ""},
		{"upper case", `{"A":1}`, `"A"`},
		{"nested upper case", `{"in":{"B":2}}`, `"B"`},
		{"duplicate", `{"a":1,"a":2}`, `duplicate object member name "a"`},
		{"nested duplicate", `{"in":{"b":1,"b":2}}`, `duplicate object member name "b"`},
		{"duplicate inside a raw member", `{"raw":{"x":1,"x":2}}`, `duplicate object member name "x"`},
		{"ignored field", `{"Key":"k"}`, `"Key"`},
		{"null", ` null `, "null"},
		{"unknown", `{"c":1}`, `"c"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v target
			err := job.DecodeStrict([]byte(tt.data), &v)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
