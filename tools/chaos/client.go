package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/docket-dev/docket/job"
)

// apiClient talks to the API replicas as a careful client would: every
// submission carries an Idempotency-Key, and a submission that fails for a
// reason a retry can fix (the replica is gone, Temporal is unavailable) is
// sent again, with the same key and body, to the next replica.
type apiClient struct {
	urls []string
	http *http.Client
}

func newAPIClient(urls []string, key string) *apiClient {
	return &apiClient{
		urls: urls,
		http: &http.Client{
			Timeout: 20 * time.Second,
			Transport: bearer{key: key, next: &http.Transport{
				Proxy:               nil, // loopback only, whatever the environment says
				MaxIdleConnsPerHost: 16,
				IdleConnTimeout:     30 * time.Second,
			}},
		},
	}
}

// bearer sends the API key with every request of the client, so that no
// call site can forget it.
type bearer struct {
	key  string
	next http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	if b.key == "" {
		return b.next.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.key)
	return b.next.RoundTrip(req)
}

// attempt is one HTTP exchange of a submission.
type attempt struct {
	Replica int
	Status  int // 0: no HTTP response (connection refused, reset, timeout)
	ID      string
	Err     string
}

// submission is everything that happened to one idempotency key.
type submission struct {
	Key      string
	Attempts []attempt
	// Accepted: some replica answered 202 or 200 with a job.
	Accepted bool
	// ID is the job id of the first acceptance.
	ID string
	// IDs are all job ids any replica answered for this key.
	IDs map[string]bool
	// Created counts 202 answers (this request created the job).
	Created int
	// Recovered: accepted after a failed attempt, by a retry with the same key.
	Recovered bool
	// GaveUp says why the client stopped without acceptance.
	GaveUp string
}

// submitPolicy bounds the retries of one submission.
type submitPolicy struct {
	MaxAttempts int
	Deadline    time.Duration
}

// submit POSTs a job with an Idempotency-Key, starting on replica first and
// moving to the next replica after every failure a retry can fix.
func (c *apiClient) submit(ctx context.Context, key string, body []byte, first int, p submitPolicy) *submission {
	s := &submission{Key: key, IDs: map[string]bool{}}
	ctx, cancel := context.WithTimeout(ctx, p.Deadline)
	defer cancel()
	replica := first % len(c.urls)
	backoff := 100 * time.Millisecond
	for n := 0; n < p.MaxAttempts; n++ {
		a := c.post(ctx, replica, key, body)
		s.Attempts = append(s.Attempts, a)
		switch {
		case a.Status == http.StatusAccepted || a.Status == http.StatusOK:
			s.IDs[a.ID] = true
			if a.Status == http.StatusAccepted {
				s.Created++
			}
			if !s.Accepted {
				s.Accepted, s.ID = true, a.ID
				s.Recovered = n > 0
			}
			return s
		case a.Status == 0 || a.Status >= 500 || a.Status == http.StatusTooManyRequests:
			// Retryable: try the other replica after a pause.
		default:
			s.GaveUp = fmt.Sprintf("HTTP %d: %s", a.Status, a.Err)
			return s
		}
		replica = (replica + 1) % len(c.urls)
		select {
		case <-ctx.Done():
			s.GaveUp = fmt.Sprintf("gave up after %d attempts: %v (last: %s)", len(s.Attempts), ctx.Err(), a.Err)
			return s
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
	s.GaveUp = fmt.Sprintf("gave up after %d attempts (last: %s)", len(s.Attempts), s.Attempts[len(s.Attempts)-1].Err)
	return s
}

func (c *apiClient) post(ctx context.Context, replica int, key string, body []byte) attempt {
	a := attempt{Replica: replica}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.urls[replica]+"/jobs", bytes.NewReader(body))
	if err != nil {
		a.Err = err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.http.Do(req)
	if err != nil {
		a.Err = err.Error()
		return a
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		// The reply was cut: as good as no reply.
		a.Err = "reading the reply: " + err.Error()
		return a
	}
	a.Status = resp.StatusCode
	if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK {
		var v job.View
		if err := json.Unmarshal(raw, &v); err != nil || v.ID == "" {
			a.Status, a.Err = 0, fmt.Sprintf("unreadable %d reply: %.200s", resp.StatusCode, raw)
			return a
		}
		a.ID = v.ID
		return a
	}
	a.Err = fmt.Sprintf("%.300s", raw)
	return a
}

// get reads a job's view from any replica that answers, starting with
// replica first. notFound is true when a replica answered 404.
func (c *apiClient) get(ctx context.Context, id string, first int) (v job.View, notFound bool, err error) {
	for i := range c.urls {
		replica := (first + i) % len(c.urls)
		req, rerr := http.NewRequestWithContext(ctx, http.MethodGet, c.urls[replica]+"/jobs/"+url.PathEscape(id), nil)
		if rerr != nil {
			return v, false, rerr
		}
		resp, rerr := c.http.Do(req)
		if rerr != nil {
			err = rerr
			continue
		}
		raw, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case rerr != nil:
			err = rerr
		case resp.StatusCode == http.StatusNotFound:
			return v, true, nil
		case resp.StatusCode != http.StatusOK:
			err = fmt.Errorf("GET /jobs/%s on %s: HTTP %d: %.200s", id, c.urls[replica], resp.StatusCode, raw)
		default:
			if uerr := json.Unmarshal(raw, &v); uerr != nil {
				return v, false, fmt.Errorf("GET /jobs/%s: %w", id, uerr)
			}
			return v, false, nil
		}
	}
	return v, false, err
}

// list pages through GET /jobs with the given query on one replica (the
// next one if it fails) and returns the ids, up to maxPages pages.
func (c *apiClient) list(ctx context.Context, query url.Values, maxPages int) (map[string]job.Status, error) {
	out := map[string]job.Status{}
	token := ""
	for page := 0; page < maxPages; page++ {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("page_size", "100")
		if token != "" {
			q.Set("page_token", token)
		}
		var list struct {
			Jobs          []job.View `json:"jobs"`
			NextPageToken string     `json:"next_page_token"`
		}
		var lastErr error
		ok := false
		for replica := range c.urls {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.urls[replica]+"/jobs?"+q.Encode(), nil)
			if err != nil {
				return nil, err
			}
			resp, err := c.http.Do(req)
			if err != nil {
				lastErr = err
				continue
			}
			raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				lastErr = fmt.Errorf("GET /jobs: HTTP %d %v: %.200s", resp.StatusCode, err, raw)
				continue
			}
			if err := json.Unmarshal(raw, &list); err != nil {
				return nil, err
			}
			ok = true
			break
		}
		if !ok {
			return nil, lastErr
		}
		for _, v := range list.Jobs {
			out[v.ID] = v.Status
		}
		if list.NextPageToken == "" {
			return out, nil
		}
		token = list.NextPageToken
	}
	return out, nil
}

// waitTerminal polls the jobs until each has a terminal status or the
// deadline passes, and returns the last view of each. Jobs that a replica
// reports as unknown are returned in missing.
func (c *apiClient) waitTerminal(ctx context.Context, ids []string, deadline time.Duration) (views map[string]job.View, missing map[string]bool) {
	views = map[string]job.View{}
	missing = map[string]bool{}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	pending := append([]string(nil), ids...)
	for round := 0; len(pending) > 0; round++ {
		var mu sync.Mutex
		var next []string
		sem := make(chan struct{}, 8)
		var wg sync.WaitGroup
		for i, id := range pending {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				v, notFound, err := c.get(ctx, id, i+round)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case notFound:
					missing[id] = true
				case err == nil:
					views[id] = v
					if !v.Status.Terminal() {
						next = append(next, id)
					}
				default:
					next = append(next, id)
				}
			}()
		}
		wg.Wait()
		pending = next
		if len(pending) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return views, missing
		case <-time.After(time.Second):
		}
	}
	return views, missing
}
