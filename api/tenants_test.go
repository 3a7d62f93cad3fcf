package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/auth"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/tools/testdocs"
	"github.com/docket-dev/docket/tools/teststack"
)

// tenantKey is one key of the tenants tests' keys file.
type tenantKey struct {
	id, tenant string
	scopes     []auth.Scope
	extra      map[string]any
}

var allScopes = []auth.Scope{auth.ScopeJobsRead, auth.ScopeJobsWrite, auth.ScopeDocumentsRead, auth.ScopeDocumentsWrite}

// tenantAPI is an API with a real keys file in front of the suite's
// worker and blob store; secrets maps each key's id to its secret.
type tenantAPI struct {
	url     string
	secrets map[string]string
	file    string
}

func startTenantAPI(t *testing.T, keys []tenantKey) tenantAPI {
	t.Helper()
	ta := tenantAPI{secrets: map[string]string{}, file: filepath.Join(t.TempDir(), "keys.json")}
	var entries []map[string]any
	for _, k := range keys {
		secret, err := auth.NewSecret()
		require.NoError(t, err)
		ta.secrets[k.id] = secret
		e := map[string]any{"id": k.id, "tenant": k.tenant, "scopes": k.scopes, "sha256": auth.HashSecret(secret)}
		for name, v := range k.extra {
			e[name] = v
		}
		entries = append(entries, e)
	}
	b, err := json.Marshal(map[string]any{"keys": entries})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(ta.file, b, 0o600))
	ring, err := auth.Open(ta.file, teststack.Logger())
	require.NoError(t, err)
	t.Cleanup(ring.Close)
	srv := teststack.API(stack.server.Client(), taskQueue, stack.docs)
	allowLoopbackHooks(srv)
	srv.Keys = ring
	hs := teststack.Serve(srv.Handler())
	t.Cleanup(hs.Close)
	ta.url = hs.URL
	return ta
}

// as calls the API with the key id's secret ("" sends no key).
func (ta tenantAPI) as(t *testing.T, key, method, path string, body []byte, header http.Header) response {
	t.Helper()
	h := http.Header{}
	for k, v := range header {
		h[k] = v
	}
	if key != "" {
		h.Set("Authorization", "Bearer "+ta.secrets[key])
	}
	return call(t, ta.url, method, path, body, h)
}

func sumBody(workMS int) []byte {
	return []byte(fmt.Sprintf(`{"type":"sum","input":{"start":1,"end":10,"work_ms":%d}}`, workMS))
}

// The isolation matrix: every route, as the owning tenant, another tenant,
// an admin, no key, a key without the route's scope and an expired key.
// Another tenant's job or document is 404 (its existence does not leak),
// and every answer is one the OpenAPI document allows (call checks it).
func TestTenantIsolationMatrix(t *testing.T) {
	expired := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	ta := startTenantAPI(t, []tenantKey{
		{id: "acme", tenant: "acme", scopes: allScopes},
		{id: "beta", tenant: "beta", scopes: allScopes},
		{id: "admin", scopes: []auth.Scope{auth.ScopeAdmin}},
		{id: "acme-jobs", tenant: "acme", scopes: []auth.Scope{auth.ScopeJobsRead, auth.ScopeJobsWrite}},
		{id: "acme-docs", tenant: "acme", scopes: []auth.Scope{auth.ScopeDocumentsRead, auth.ScopeDocumentsWrite}},
		{id: "acme-expired", tenant: "acme", scopes: allScopes, extra: map[string]any{"expires_at": expired}},
	})
	// acme's resources: a finished sum job, a document, a document job
	// with a stored page, a running job to cancel, a document to delete.
	// Bytes no other test uploads: the part of no tenant (the admin
	// key's) must not hold them.
	doc := pngDoc(t, append(append([]string{}, invoiceLines...), "Ref "+uuid.NewString()[:8]))
	r := ta.as(t, "acme", http.MethodPost, "/documents?filename=invoice.png", doc, http.Header{"Content-Type": {"image/png"}})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var d struct{ ID string }
	r.decode(t, &d)
	start := func(key string, body []byte) job.View {
		t.Helper()
		r := ta.as(t, key, http.MethodPost, "/jobs", body, nil)
		require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
		return r.view(t)
	}
	sum := start("acme", sumBody(0))
	require.Equal(t, "acme", sum.Tenant)
	docJob := start("acme", []byte(`{"type":"document","input":{"document_id":"`+d.ID+`","steps":["ocr"]}}`))
	for _, id := range []string{sum.ID, docJob.ID} {
		res := ta.as(t, "acme", http.MethodGet, "/jobs/"+id+"/results?wait=60s", nil, nil)
		require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	}
	running := start("acme", sumBody(30_000))
	other, err := testdocsPNG([]string{"to be deleted"})
	require.NoError(t, err)
	r = ta.as(t, "acme", http.MethodPost, "/documents?filename=old.png", other, http.Header{"Content-Type": {"image/png"}})
	require.Equal(t, http.StatusCreated, r.Status)
	var gone struct{ ID string }
	r.decode(t, &gone)

	const (
		own, otherT, admin, none, noScope, expiredKey = "acme", "beta", "admin", "", "wrong-scope", "acme-expired"
	)
	who := []string{otherT, admin, none, noScope, expiredKey, own}
	type route struct {
		method, path string
		body         []byte
		header       http.Header
		jobs         bool // a jobs route (else documents): which key lacks its scope
		// want is the status each caller gets (any of them); none,
		// expired and wrong-scope callers get 401, 401 and 403.
		want map[string][]int
	}
	png := http.Header{"Content-Type": {"image/png"}}
	ok, made, gone404 := []int{200}, []int{201}, []int{404}
	routes := []route{
		{http.MethodGet, "/jobs/" + sum.ID, nil, nil, true, map[string][]int{own: ok, otherT: gone404, admin: ok}},
		{http.MethodGet, "/jobs/" + sum.ID + "/results", nil, nil, true, map[string][]int{own: ok, otherT: gone404, admin: ok}},
		{http.MethodGet, "/jobs/" + docJob.ID + "/pages/1", nil, nil, true, map[string][]int{own: ok, otherT: gone404, admin: ok}},
		{http.MethodDelete, "/jobs/" + sum.ID, nil, nil, true, map[string][]int{own: {409}, otherT: gone404, admin: {409}}},
		// The admin's cancel may end the job before its owner's arrives.
		{http.MethodDelete, "/jobs/" + running.ID, nil, nil, true, map[string][]int{own: {202, 409}, otherT: gone404, admin: {202}}},
		{http.MethodGet, "/jobs?page_size=100", nil, nil, true, map[string][]int{own: ok, otherT: ok, admin: ok}},
		{http.MethodPost, "/jobs", sumBody(0), nil, true, map[string][]int{own: {202}, otherT: {202}, admin: {202}}},
		{http.MethodGet, "/documents/" + d.ID, nil, nil, false, map[string][]int{own: ok, otherT: gone404, admin: gone404}},
		{http.MethodGet, "/documents/" + d.ID + "?tenant=acme", nil, nil, false, map[string][]int{own: ok, otherT: {403}, admin: ok}},
		{http.MethodGet, "/documents/" + d.ID + "/content", nil, nil, false, map[string][]int{own: ok, otherT: gone404, admin: gone404}},
		{http.MethodGet, "/documents?search=invoice", nil, nil, false, map[string][]int{own: ok, otherT: ok, admin: ok}},
		{http.MethodGet, "/documents?tenant=acme", nil, nil, false, map[string][]int{own: ok, otherT: {403}, admin: ok}},
		{http.MethodDelete, "/documents/" + gone.ID, nil, nil, false, map[string][]int{own: {204}, otherT: gone404, admin: gone404}},
		// The same bytes are a new document of each tenant.
		{http.MethodPost, "/documents", doc, png, false, map[string][]int{own: ok, otherT: made, admin: made}},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			for _, w := range who {
				key := w
				if w == noScope {
					key = "acme-docs"
					if !rt.jobs {
						key = "acme-jobs"
					}
				}
				want, expected := rt.want[w]
				switch {
				case expected:
				case w == none || w == expiredKey:
					want = []int{http.StatusUnauthorized}
				case w == noScope:
					want = []int{http.StatusForbidden}
				default:
					t.Fatalf("no expectation for %s", w)
				}
				r := ta.as(t, key, rt.method, rt.path, rt.body, rt.header)
				require.Contains(t, want, r.Status, "as %s: %s", w, r.Body)
				switch r.Status {
				case http.StatusUnauthorized:
					require.Contains(t, r.Header.Get("WWW-Authenticate"), "Bearer")
					require.Equal(t, "https://docket.dev/problems/unauthenticated", r.problem(t).Type)
					if key != "" {
						require.NotContains(t, string(r.Body), ta.secrets[key], "a 401 never echoes the key")
					}
				case http.StatusForbidden:
					require.Contains(t, r.problem(t).Type, "insufficient-scope")
				case http.StatusNotFound:
					require.NotContains(t, string(r.Body), "acme", "a 404 says nothing of the owner")
				}
				if strings.HasPrefix(rt.path, "/jobs?") && r.Status == http.StatusOK {
					var l struct{ Jobs []job.View }
					r.decode(t, &l)
					seen := contains(ids(l.Jobs), sum.ID)
					if w == admin {
						seen = seen || len(l.Jobs) == 100 // a full page may end before it
					}
					require.Equal(t, w != otherT, seen, "as %s: acme's job in the list", w)
					for _, v := range l.Jobs {
						if w == own || w == otherT {
							require.Equal(t, key, v.Tenant, "as %s: a tenant lists only its own jobs", w)
						}
					}
				}
				if strings.HasPrefix(rt.path, "/documents?") && r.Status == http.StatusOK {
					var l struct{ Documents []struct{ ID string } }
					r.decode(t, &l)
					var listed []string
					for _, x := range l.Documents {
						listed = append(listed, x.ID)
					}
					require.Equal(t, w == own || (w == admin && strings.Contains(rt.path, "tenant=acme")), contains(listed, d.ID), "as %s: acme's document in the list", w)
				}
			}
		})
	}
	// The deleted document's job outputs went with it: gone is not found
	// again, and acme's other document is still there.
	require.Equal(t, http.StatusNotFound, ta.as(t, "acme", http.MethodGet, "/documents/"+gone.ID, nil, nil).Status)
	require.Equal(t, http.StatusOK, ta.as(t, "acme", http.MethodGet, "/documents/"+d.ID, nil, nil).Status)

	// A job can name only its own tenant's documents: beta now has its own
	// record of the same bytes, so use a document only acme has.
	only, err := testdocsPNG([]string{"acme only"})
	require.NoError(t, err)
	r = ta.as(t, "acme", http.MethodPost, "/documents", only, png)
	require.Equal(t, http.StatusCreated, r.Status)
	var mine struct{ ID string }
	r.decode(t, &mine)
	r = ta.as(t, "beta", http.MethodPost, "/jobs", []byte(`{"type":"document","input":{"document_id":"`+mine.ID+`"}}`), nil)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "body: %s", r.Body)
	require.Equal(t, "input.document_id", r.problem(t).Field)

	// Open routes need no key.
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json"} {
		require.Equal(t, http.StatusOK, ta.as(t, "", http.MethodGet, path, nil, nil).Status, path)
	}
}

// Idempotency keys are per tenant: the same key from two tenants makes two
// jobs, and each tenant's retry finds its own.
func TestIdempotencyKeysArePerTenant(t *testing.T) {
	ta := startTenantAPI(t, []tenantKey{{id: "acme", tenant: "acme", scopes: allScopes}, {id: "beta", tenant: "beta", scopes: allScopes}})
	key := http.Header{"Idempotency-Key": {"order-" + uuid.NewString()}}
	a := ta.as(t, "acme", http.MethodPost, "/jobs", sumBody(0), key)
	b := ta.as(t, "beta", http.MethodPost, "/jobs", sumBody(0), key)
	require.Equal(t, http.StatusAccepted, a.Status)
	require.Equal(t, http.StatusAccepted, b.Status, "body: %s", b.Body)
	require.NotEqual(t, a.view(t).ID, b.view(t).ID)
	again := ta.as(t, "beta", http.MethodPost, "/jobs", sumBody(0), key)
	require.Equal(t, http.StatusOK, again.Status)
	require.Equal(t, b.view(t).ID, again.view(t).ID)
}

// A key's quotas and priority cap: max_priority bounds what it may ask
// for, requests_per_second answers 429 with Retry-After, and max_open_jobs
// (counted in Temporal) refuses a tenant's job beyond its limit.
func TestKeyLimits(t *testing.T) {
	ta := startTenantAPI(t, []tenantKey{
		{id: "capped", tenant: "capped", scopes: allScopes, extra: map[string]any{"max_priority": 2}},
		{id: "batch", tenant: "batch", scopes: allScopes, extra: map[string]any{"max_priority": 4}},
		{id: "slow", tenant: "slow", scopes: allScopes, extra: map[string]any{"requests_per_second": 1}},
		{id: "small", tenant: "small", scopes: allScopes, extra: map[string]any{"max_open_jobs": 1}},
	})
	r := ta.as(t, "capped", http.MethodPost, "/jobs", []byte(`{"type":"sum","input":{"start":1,"end":2},"priority":1}`), nil)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	require.Equal(t, "priority", r.problem(t).Field)
	r = ta.as(t, "capped", http.MethodPost, "/jobs", []byte(`{"type":"sum","input":{"start":1,"end":2},"priority":2}`), nil)
	require.Equal(t, http.StatusAccepted, r.Status)
	v := ta.as(t, "capped", http.MethodGet, "/jobs/"+r.view(t).ID, nil, nil).view(t)
	require.Equal(t, 2, v.Priority, "Temporal records the job's priority")
	r = ta.as(t, "batch", http.MethodPost, "/jobs", sumBody(0), nil)
	require.Equal(t, http.StatusAccepted, r.Status)
	require.Equal(t, 4, ta.as(t, "batch", http.MethodGet, "/jobs/"+r.view(t).ID, nil, nil).view(t).Priority,
		"a key whose best is below the default gets its best")

	limited := 0
	for range 5 {
		r := ta.as(t, "slow", http.MethodGet, "/jobs?page_size=1", nil, nil)
		if r.Status == http.StatusTooManyRequests {
			limited++
			require.Equal(t, "https://docket.dev/problems/rate-limited", r.problem(t).Type)
			require.NotEmpty(t, r.Header.Get("Retry-After"))
		}
	}
	require.GreaterOrEqual(t, limited, 3, "one request per second: most of five at once are refused")

	firstKey := http.Header{"Idempotency-Key": {"first"}}
	first := ta.as(t, "small", http.MethodPost, "/jobs", sumBody(30_000), firstKey)
	require.Equal(t, http.StatusAccepted, first.Status)
	t.Cleanup(func() { ta.as(t, "small", http.MethodDelete, "/jobs/"+first.view(t).ID, nil, nil) })
	// Each try is a new request (a new key): until the count catches up
	// (a second, plus visibility's delay) a few may be admitted.
	var refused response
	tries := 0
	require.Eventually(t, func() bool {
		tries++
		refused = ta.as(t, "small", http.MethodPost, "/jobs", sumBody(30_000), http.Header{"Idempotency-Key": {fmt.Sprintf("next-%d", tries)}})
		return refused.Status == http.StatusTooManyRequests
	}, 15*time.Second, 300*time.Millisecond, "the open-job count reaches the quota within seconds")
	require.Equal(t, "https://docket.dev/problems/too-many-open-jobs", refused.problem(t).Type)
	require.NotEmpty(t, refused.Header.Get("Retry-After"))
	// A retry of the accepted request still gets its job.
	again := ta.as(t, "small", http.MethodPost, "/jobs", sumBody(30_000), firstKey)
	require.Equal(t, http.StatusOK, again.Status, "body: %s", again.Body)
	require.Equal(t, first.view(t).ID, again.view(t).ID)
	// Stop what the test started: every unfinished job of the tenant.
	var l struct{ Jobs []job.View }
	ta.as(t, "small", http.MethodGet, "/jobs?page_size=100", nil, nil).decode(t, &l)
	for _, v := range l.Jobs {
		if !v.Status.Terminal() && v.ID != first.view(t).ID {
			ta.as(t, "small", http.MethodDelete, "/jobs/"+v.ID, nil, nil)
		}
	}
}

func testdocsPNG(lines []string) ([]byte, error) { return testdocs.PNG(lines, 32) }

// A job started with the temporal CLI belongs to the tenant named by its
// DocketTenant search attribute (as the README shows), and one started
// without it belongs to no tenant: only admin keys see it.
func TestTenantOfCLIJobs(t *testing.T) {
	ta := startTenantAPI(t, []tenantKey{
		{id: "acme", tenant: "acme", scopes: allScopes},
		{id: "beta", tenant: "beta", scopes: allScopes},
		{id: "admin", scopes: []auth.Scope{auth.ScopeAdmin}},
	})
	owned, orphan := "cli-acme-"+uuid.NewString(), "cli-none-"+uuid.NewString()
	_, err := stack.server.CLIOutput(t.Context(), "workflow", "start", "--type", "sum", "--task-queue", taskQueue,
		"--workflow-id", owned, "--input", `{"start":1,"end":3}`,
		"--search-attribute", job.TenantSearchAttribute+`="acme"`, "--fairness-key", "acme")
	require.NoError(t, err)
	_, err = stack.server.CLIOutput(t.Context(), "workflow", "start", "--type", "sum", "--task-queue", taskQueue,
		"--workflow-id", orphan, "--input", `{"start":1,"end":3}`)
	require.NoError(t, err)
	for _, tc := range []struct {
		key, id string
		want    int
	}{
		{"acme", owned, http.StatusOK}, {"beta", owned, http.StatusNotFound}, {"admin", owned, http.StatusOK},
		{"acme", orphan, http.StatusNotFound}, {"beta", orphan, http.StatusNotFound}, {"admin", orphan, http.StatusOK},
	} {
		r := ta.as(t, tc.key, http.MethodGet, "/jobs/"+tc.id+"/results?wait=30s", nil, nil)
		require.Equal(t, tc.want, r.Status, "%s reading %s: %s", tc.key, tc.id, r.Body)
	}
	v := ta.as(t, "acme", http.MethodGet, "/jobs/"+owned, nil, nil).view(t)
	require.Equal(t, "acme", v.Tenant)
}
