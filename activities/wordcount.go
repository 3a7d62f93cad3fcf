package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/net/html"

	"github.com/docket-dev/docket/internal/egress"
	"github.com/docket-dev/docket/internal/metrics"
	"github.com/docket-dev/docket/job"
)

// DefaultMaxFetchBytes caps a fetched page when Activities.MaxFetchBytes is unset.
const DefaultMaxFetchBytes = 5 << 20

// CountWords fetches in.URL and counts the words of its text (HTML is
// reduced to its visible text). A 4xx answer, a refused destination or a
// page that is not text fail without retry; network errors, 429 and 5xx
// are returned as retryable so that the workflow's retry policy backs off.
func (a *Activities) CountWords(ctx context.Context, in job.WordcountInput) (job.StepOutput[job.WordcountResult], error) {
	var out job.StepOutput[job.WordcountResult]
	if err := in.Normalize(); err != nil {
		return out, temporal.NewNonRetryableApplicationError(err.Error(), string(job.FailInvalidInput), err)
	}
	text, err := a.fetchText(ctx, in.URL)
	metrics.Fetch(fetchOutcome(err))
	if err != nil {
		return out, err
	}
	out.Result = countWords(text, in.Top)
	out.Report = a.report(ctx)
	return out, nil
}

func (a *Activities) fetchText(ctx context.Context, url string) (string, error) {
	client := a.HTTP
	if client == nil {
		client = NewFetchClient(nil, 30*time.Second)
	}
	limit := a.MaxFetchBytes
	if limit <= 0 {
		limit = DefaultMaxFetchBytes
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("build request: %v", err), string(job.FailInvalidInput), err)
	}
	req.Header.Set("User-Agent", "docket-wordcount/1")
	req.Header.Set("Accept", "text/html, text/plain;q=0.9, */*;q=0.1")
	resp, err := client.Do(req)
	if err != nil {
		return "", fetchError(url, err)
	}
	defer resp.Body.Close()

	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		var delay time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 && s <= 300 {
			delay = time.Duration(s) * time.Second
		}
		return "", temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("fetch %s: server answered %s", url, resp.Status), string(job.FailHTTPServerError),
			temporal.ApplicationErrorOptions{NextRetryDelay: delay})
	case resp.StatusCode >= 400:
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("fetch %s: server answered %s", url, resp.Status), string(job.FailHTTPClientError), nil)
	case resp.StatusCode >= 300:
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("fetch %s: unfollowed redirect %s", url, resp.Status), string(job.FailHTTPClientError), nil)
	}
	// No Content-Type at all is read as text; one that does not parse is not.
	mediaType := ""
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			mt = "unparsable (" + ct + ")"
		}
		mediaType = mt
	}
	isHTML := mediaType == "text/html" || mediaType == "application/xhtml+xml"
	if !isHTML && !strings.HasPrefix(mediaType, "text/") && mediaType != "" {
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("fetch %s: content type %q is not text", url, mediaType), string(job.FailUnsupportedContent), nil)
	}
	if resp.ContentLength > limit {
		return "", tooLarge(url, limit)
	}
	body, err := io.ReadAll(io.LimitReader(&heartbeatReader{ctx: ctx, r: resp.Body, total: resp.ContentLength}, limit+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", url, err)
	}
	if int64(len(body)) > limit {
		return "", tooLarge(url, limit)
	}
	if isHTML {
		return htmlText(string(body)), nil
	}
	return string(body), nil
}

// fetchError maps an error of client.Do to the activity's error: the
// permanent ones to a documented non-retryable type, so that the workflow
// does not fetch the same URL five times; everything else (connection
// errors, timeouts, a DNS server that does not answer) stays retryable.
func fetchError(url string, err error) error {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, egress.ErrRefused):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("fetch %s: %v", url, err), string(job.FailFetchRefused), nil)
	case errors.Is(err, egress.ErrRedirect), errors.Is(err, egress.ErrInvalidURL):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("fetch %s: %v", url, err), string(job.FailFetchFailed), nil)
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		// Built from Name and Err only: DNSError.Error() can name the
		// worker's DNS server ("lookup x on 10.1.2.3:53: ...").
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("fetch %s: host name %s does not exist (%s)", url, dnsErr.Name, dnsErr.Err), string(job.FailFetchFailed), nil)
	}
	return fmt.Errorf("fetch %s: %w", url, err)
}

func tooLarge(url string, limit int64) error {
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("fetch %s: page is larger than %d bytes", url, limit), string(job.FailResponseTooLarge), nil)
}

// heartbeatReader heartbeats the bytes read so far, so that a slow download
// shows progress and notices cancellation. The SDK throttles the heartbeats.
type heartbeatReader struct {
	ctx   context.Context
	r     io.Reader
	done  int64
	total int64
}

func (h *heartbeatReader) Read(p []byte) (int, error) {
	if err := h.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := h.r.Read(p)
	h.done += int64(n)
	activity.RecordHeartbeat(h.ctx, job.Progress{Done: h.done, Total: max(h.total, 0)})
	return n, err
}

// htmlText returns the text a browser would show, without scripts and styles.
func htmlText(doc string) string {
	z := html.NewTokenizer(strings.NewReader(doc))
	var b strings.Builder
	skip := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.StartTagToken:
			if name, _ := z.TagName(); invisible(string(name)) {
				skip++
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); invisible(string(name)) && skip > 0 {
				skip--
			}
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
				b.WriteByte(' ')
			}
		}
	}
}

func invisible(tag string) bool {
	switch tag {
	// Not "head": its end tag is optional, and waiting for it would hide
	// the whole body of a page that leaves it out.
	case "script", "style", "noscript", "template", "title":
		return true
	}
	return false
}

// countWords splits text into lower-cased words of letters and digits
// (apostrophes inside a word are kept) and returns the top n by count,
// ties broken alphabetically so the result is the same on every run.
func countWords(text string, n int) job.WordcountResult {
	counts := map[string]int{}
	total := 0
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
	for _, w := range words {
		w = strings.Trim(w, "'")
		if w == "" {
			continue
		}
		counts[w]++
		total++
	}
	top := make([]job.WordCount, 0, len(counts))
	for w, c := range counts {
		top = append(top, job.WordCount{Word: w, Count: c})
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].Count != top[j].Count {
			return top[i].Count > top[j].Count
		}
		return top[i].Word < top[j].Word
	})
	if len(top) > n {
		top = top[:n]
	}
	return job.WordcountResult{Words: total, Unique: len(counts), Top: top}
}
