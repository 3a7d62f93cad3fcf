package activities_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/activities"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

// allowedActivities returns Activities whose client may fetch from the
// httptest servers on 127.0.0.1.
func allowedActivities(maxFetchBytes int64) *activities.Activities {
	return &activities.Activities{
		Worker:        testWorker,
		HTTP:          activities.NewFetchClient([]string{"127.0.0.1"}, fetchTimeout),
		MaxFetchBytes: maxFetchBytes,
	}
}

func runCountWords(t *testing.T, a *activities.Activities, in job.WordcountInput) (job.StepOutput[job.WordcountResult], error) {
	t.Helper()
	var out job.StepOutput[job.WordcountResult]
	val, err := newActivityEnv(t, a).ExecuteActivity(steps.CountWords.Name, in)
	if err != nil {
		return out, err
	}
	require.NoError(t, val.Get(&out))
	return out, nil
}

// serve returns a handler that answers with body and the given Content-Type
// (none at all if contentType is "").
func serve(contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType == "" {
			w.Header()["Content-Type"] = nil // no sniffing either
		} else {
			w.Header().Set("Content-Type", contentType)
		}
		_, _ = io.WriteString(w, body)
	}
}

func wc(word string, count int) job.WordCount { return job.WordCount{Word: word, Count: count} }

func TestCountWordsHTML(t *testing.T) {
	const page = `<!DOCTYPE html>
<html>
<head>
  <title>zebra zebra</title>
  <style>body { color: red } .zebra::before { content: "zebra" }</style>
  <script>var zebra = "zebra zebra zebra";</script>
</head>
<body>
  <h1>Hello world</h1>
  <script type="text/javascript">document.write("zebra zebra");</script>
  <p>Hello <b>again</b>, world! Hello.</p>
  <style>.zebra { display: none }</style>
  <noscript>zebra</noscript>
  <template><p>zebra</p></template>
  <p>Caf&eacute; &amp; caf&#233;</p>
</body>
</html>`
	srv := newCountingServer(t, serve("text/html; charset=utf-8", page))
	out, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL + "/", Top: 10})
	require.NoError(t, err)
	require.Equal(t, job.WordcountResult{
		Words:  8,
		Unique: 4,
		Top:    []job.WordCount{wc("hello", 3), wc("café", 2), wc("world", 2), wc("again", 1)},
	}, out.Result)
	requireReport(t, out.Report)
}

func TestCountWordsHTMLContentTypes(t *testing.T) {
	const page = `<html><body><p>one two two</p><script>three three three</script></body></html>`
	for _, ct := range []string{"text/html", "TEXT/HTML; charset=UTF-8", "application/xhtml+xml"} {
		t.Run(ct, func(t *testing.T) {
			srv := newCountingServer(t, serve(ct, page))
			out, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL, Top: 5})
			require.NoError(t, err)
			require.Equal(t, job.WordcountResult{Words: 3, Unique: 2, Top: []job.WordCount{wc("two", 2), wc("one", 1)}}, out.Result)
		})
	}
}

// An HTML page may omit </head> (HTML5 §13.1.2.4 "Optional tags"): the head
// ends where the body's content begins, and a browser shows that content.
func TestCountWordsHTMLWithoutHeadEndTag(t *testing.T) {
	for name, page := range map[string]string{
		"body tag":    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title><body><p>visible words here</p></body></html>`,
		"no body tag": `<!DOCTYPE html><html><head><title>t</title><p>visible words here</p></html>`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := newCountingServer(t, serve("text/html", page))
			out, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL, Top: 5})
			require.NoError(t, err)
			require.Equal(t, 3, out.Result.Words)
			require.Equal(t, 3, out.Result.Unique)
		})
	}
}

func TestCountWordsPlainText(t *testing.T) {
	// Lower-cased words of letters and digits; apostrophes inside a word
	// are kept, those around it dropped; everything else separates words.
	const text = "The cat and the hat. The CAT's hat! 'quoted' don't 42 x-ray ''"
	// the:3 hat:2, then count 1 in byte order: 42 and cat cat's don't quoted ray x
	all := []job.WordCount{
		wc("the", 3), wc("hat", 2),
		wc("42", 1), wc("and", 1), wc("cat", 1), wc("cat's", 1), wc("don't", 1), wc("quoted", 1), wc("ray", 1), wc("x", 1),
	}
	srv := newCountingServer(t, serve("text/plain; charset=utf-8", text))
	for _, top := range []int{1, 2, 4, 10, 100} {
		t.Run(fmt.Sprint("top ", top), func(t *testing.T) {
			out, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL + "/doc.txt", Top: top})
			require.NoError(t, err)
			require.Equal(t, 13, out.Result.Words)
			require.Equal(t, 10, out.Result.Unique)
			require.Equal(t, all[:min(top, len(all))], out.Result.Top)
			requireReport(t, out.Report)
		})
	}
}

func TestCountWordsTopOrdering(t *testing.T) {
	// Count descending, then word ascending.
	const text = "delta bravo alpha charlie bravo delta echo delta alpha bravo"
	// delta:3 bravo:3 alpha:2 charlie:1 echo:1
	want := []job.WordCount{wc("bravo", 3), wc("delta", 3), wc("alpha", 2), wc("charlie", 1), wc("echo", 1)}
	srv := newCountingServer(t, serve("text/plain", text))
	for top := 1; top <= 6; top++ {
		out, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL, Top: top})
		require.NoError(t, err)
		require.Equal(t, 10, out.Result.Words)
		require.Equal(t, 5, out.Result.Unique)
		require.Equal(t, want[:min(top, len(want))], out.Result.Top, "top %d", top)
	}
}

func TestCountWordsDefaultTop(t *testing.T) {
	words := strings.Fields("m l k j i h g f e d c b a")
	srv := newCountingServer(t, serve("text/plain", strings.Join(words, " ")))
	out, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL})
	require.NoError(t, err)
	require.Equal(t, 13, out.Result.Words)
	require.Equal(t, 13, out.Result.Unique)
	require.Len(t, out.Result.Top, job.WordcountDefaultTop)
	for i, w := range out.Result.Top {
		require.Equal(t, wc(string(rune('a'+i)), 1), w)
	}
}

func TestCountWordsOtherTextTypes(t *testing.T) {
	// Any text/* type is counted as is (markup included); so is a response
	// without a Content-Type.
	for _, ct := range []string{"text/plain", "text/csv", "text/markdown; charset=utf-8", "text/xml", ""} {
		t.Run(fmt.Sprintf("%q", ct), func(t *testing.T) {
			srv := newCountingServer(t, serve(ct, "<b>bold</b> bold"))
			out, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL, Top: 5})
			require.NoError(t, err)
			require.Equal(t, job.WordcountResult{Words: 4, Unique: 2, Top: []job.WordCount{wc("b", 2), wc("bold", 2)}}, out.Result)
		})
	}
}

func TestCountWordsEmptyPage(t *testing.T) {
	for _, ct := range []string{"text/plain", "text/html"} {
		srv := newCountingServer(t, serve(ct, ""))
		out, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL})
		require.NoError(t, err, ct)
		require.Zero(t, out.Result.Words, ct)
		require.Zero(t, out.Result.Unique, ct)
		require.Empty(t, out.Result.Top, ct)
	}
}

func TestCountWordsSendsHeaders(t *testing.T) {
	headers := make(chan http.Header, 1)
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		headers <- r.Header.Clone()
		serve("text/plain", "x")(w, r)
	})
	_, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL})
	require.NoError(t, err)
	h := <-headers
	require.Equal(t, "docket-wordcount/1", h.Get("User-Agent"))
	require.Contains(t, h.Get("Accept"), "text/html")
}

func TestCountWordsFollowsRedirectOnAllowedHost(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		serve("text/plain", "moved here")(w, r)
	})
	out, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL + "/old"})
	require.NoError(t, err)
	require.Equal(t, 2, out.Result.Words)
	require.Equal(t, int64(2), srv.hits.Load())
}

func TestCountWordsHTTPStatusErrors(t *testing.T) {
	tests := []struct {
		status       int
		errType      string
		nonRetryable bool
	}{
		{http.StatusBadRequest, string(job.FailHTTPClientError), true},
		{http.StatusUnauthorized, string(job.FailHTTPClientError), true},
		{http.StatusForbidden, string(job.FailHTTPClientError), true},
		{http.StatusNotFound, string(job.FailHTTPClientError), true},
		{http.StatusGone, string(job.FailHTTPClientError), true},
		{http.StatusTooManyRequests, "", false},
		{http.StatusInternalServerError, "", false},
		{http.StatusBadGateway, "", false},
		{http.StatusServiceUnavailable, "", false},
		{http.StatusGatewayTimeout, "", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, "some words in an error page")
			})
			_, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL + "/missing"})
			appErr := requireAppError(t, err, tt.errType, tt.nonRetryable)
			require.Contains(t, appErr.Error(), fmt.Sprint(tt.status))
			if !tt.nonRetryable {
				require.NotEqual(t, job.FailHTTPClientError, job.Failure(appErr.Type()))
			}
		})
	}
}

func TestCountWordsRetryAfter(t *testing.T) {
	tests := []struct {
		status     int
		retryAfter string
		want       time.Duration
	}{
		{http.StatusTooManyRequests, "7", 7 * time.Second},
		{http.StatusServiceUnavailable, "300", 300 * time.Second},
		{http.StatusServiceUnavailable, "301", 0},                        // too long: ignored
		{http.StatusTooManyRequests, "0", 0},                             // not positive
		{http.StatusTooManyRequests, "-5", 0},                            // not positive
		{http.StatusTooManyRequests, "Wed, 21 Oct 2015 07:28:00 GMT", 0}, // dates are not used
		{http.StatusTooManyRequests, "", 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %q", tt.status, tt.retryAfter), func(t *testing.T) {
			srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
			})
			_, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL})
			appErr := requireAppError(t, err, "", false)
			require.Equal(t, tt.want, appErr.NextRetryDelay())
		})
	}
}

func TestCountWordsUnfollowedRedirect(t *testing.T) {
	for _, status := range []int{http.StatusMultipleChoices, http.StatusFound, http.StatusNotModified} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status) // no Location header: the client cannot follow
			})
			_, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL})
			requireAppError(t, err, string(job.FailHTTPClientError), true)
		})
	}
}

func TestCountWordsUnsupportedMedia(t *testing.T) {
	for _, ct := range []string{
		"application/octet-stream",
		"image/png",
		"IMAGE/PNG",
		"application/pdf",
		"application/json",
		"video/mp4; codecs=avc1",
	} {
		t.Run(ct, func(t *testing.T) {
			srv := newCountingServer(t, serve(ct, "these look like words"))
			_, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL})
			requireAppError(t, err, string(job.FailUnsupportedContent), true)
		})
	}
}

// fixedLength answers with n bytes of words and a Content-Length header.
func fixedLength(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", fmt.Sprint(n))
		_, _ = io.WriteString(w, wordBytes(n))
	}
}

// chunked answers with n bytes of words, flushed in chunks so that the
// response has no Content-Length.
func chunked(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		body := wordBytes(n)
		for len(body) > 0 {
			k := min(len(body), 256)
			if _, err := io.WriteString(w, body[:k]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			body = body[k:]
		}
	}
}

// wordBytes is n bytes of "word " repeated (the last one maybe cut short).
func wordBytes(n int) string {
	return strings.Repeat("word ", n/5+1)[:n]
}

func TestCountWordsSizeLimit(t *testing.T) {
	const limit = 1024
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantLen int64 // Content-Length the fixture must produce (-1: none)
		tooBig  bool
	}{
		{"content-length at limit", fixedLength(limit), limit, false},
		{"content-length over limit", fixedLength(limit + 1), limit + 1, true},
		{"content-length far over limit", fixedLength(1 << 20), 1 << 20, true},
		{"chunked at limit", chunked(limit), -1, false},
		{"chunked over limit", chunked(limit + 1), -1, true},
		{"chunked far over limit", chunked(1 << 20), -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newCountingServer(t, tt.handler)

			// Check the fixture: with or without Content-Length, as intended.
			resp, err := srv.Client().Get(srv.URL)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.Equal(t, tt.wantLen, resp.ContentLength)

			out, err := runCountWords(t, allowedActivities(limit), job.WordcountInput{URL: srv.URL})
			if tt.tooBig {
				requireAppError(t, err, string(job.FailResponseTooLarge), true)
				return
			}
			require.NoError(t, err)
			require.Equal(t, (limit+4)/5, out.Result.Words) // "word" and its cut-short prefix
		})
	}
}

func TestCountWordsSizeLimitAppliesAfterDecompression(t *testing.T) {
	// 1 MiB of words compresses to a few KiB; the limit is on what is read.
	const limit = 64 << 10
	var compressed bytes.Buffer
	zw := gzip.NewWriter(&compressed)
	_, err := io.WriteString(zw, wordBytes(1<<20))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.Less(t, compressed.Len(), limit, "test bug: compressed body must be under the limit")

	acceptEncoding := make(chan string, 1)
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		acceptEncoding <- r.Header.Get("Accept-Encoding")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", fmt.Sprint(compressed.Len()))
		_, _ = w.Write(compressed.Bytes())
	})
	_, err = runCountWords(t, allowedActivities(limit), job.WordcountInput{URL: srv.URL})
	requireAppError(t, err, string(job.FailResponseTooLarge), true)
	require.Equal(t, "gzip", <-acceptEncoding, "fixture assumes the transport asks for gzip")
}

func TestCountWordsDefaultSizeLimit(t *testing.T) {
	// MaxFetchBytes unset means DefaultMaxFetchBytes.
	srv := newCountingServer(t, chunked(activities.DefaultMaxFetchBytes+1))
	_, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL})
	requireAppError(t, err, string(job.FailResponseTooLarge), true)

	srv = newCountingServer(t, fixedLength(activities.DefaultMaxFetchBytes))
	out, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL})
	require.NoError(t, err)
	require.Equal(t, activities.DefaultMaxFetchBytes/5, out.Result.Words)
	require.Equal(t, []job.WordCount{wc("word", activities.DefaultMaxFetchBytes/5)}, out.Result.Top)
}

func TestCountWordsRefusedDestination(t *testing.T) {
	srv := newCountingServer(t, serve("text/plain", "secret internal page"))
	for name, a := range map[string]*activities.Activities{
		"client without allow-list": {Worker: testWorker, HTTP: activities.NewFetchClient(nil, fetchTimeout)},
		"default client":            {Worker: testWorker},
	} {
		t.Run(name, func(t *testing.T) {
			for _, u := range []string{srv.URL + "/", "http://localhost:" + srv.port(t) + "/", "http://[::ffff:127.0.0.1]:" + srv.port(t) + "/"} {
				_, err := runCountWords(t, a, job.WordcountInput{URL: u})
				requireAppError(t, err, string(job.FailFetchRefused), true)
			}
		})
	}
	require.Zero(t, srv.hits.Load())
}

func TestCountWordsRefusesRedirectToNonAllowedHost(t *testing.T) {
	target := newCountingServer(t, serve("text/plain", "secret internal page"))
	redirector := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost:"+target.port(t)+"/", http.StatusFound)
	})
	_, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: redirector.URL})
	requireAppError(t, err, string(job.FailFetchRefused), true)
	require.Equal(t, int64(1), redirector.hits.Load())
	require.Zero(t, target.hits.Load())
}

func TestCountWordsInvalidInput(t *testing.T) {
	srv := newCountingServer(t, nil)
	for _, in := range []job.WordcountInput{
		{},
		{URL: "ftp://127.0.0.1/file"},
		{URL: "127.0.0.1/no-scheme"},
		{URL: "http://user:pass@127.0.0.1:" + srv.port(t) + "/"},
		{URL: srv.URL, Top: job.WordcountMaxTop + 1},
		{URL: srv.URL, Top: -1},
	} {
		_, err := runCountWords(t, allowedActivities(0), in)
		requireAppError(t, err, string(job.FailInvalidInput), true)
	}
	require.Zero(t, srv.hits.Load())
}

func TestCountWordsNetworkErrorsAreRetryable(t *testing.T) {
	hijack := func(raw string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			defer conn.Close()
			_, _ = buf.WriteString(raw)
			_ = buf.Flush()
		}
	}
	tests := map[string]http.HandlerFunc{
		"connection closed before answering": hijack(""),
		"truncated body":                     hijack("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly a few words"),
		"garbled answer":                     hijack("this is not HTTP\r\n\r\n"),
	}
	for name, h := range tests {
		t.Run(name, func(t *testing.T) {
			srv := newCountingServer(t, h)
			_, err := runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL})
			appErr := requireAppError(t, err, "", false)
			for _, typ := range []string{string(job.FailInvalidInput), string(job.FailFetchRefused), string(job.FailHTTPClientError), string(job.FailUnsupportedContent), string(job.FailResponseTooLarge)} {
				require.NotEqual(t, typ, appErr.Type())
			}
		})
	}
}
