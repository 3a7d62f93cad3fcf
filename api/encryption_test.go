package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/internal/crypt"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/tools/testdocs"
	"github.com/docket-dev/docket/tools/teststack"
	"github.com/docket-dev/docket/workflows"
)

// Content given to a job reaches the Temporal service, its SQLite file and
// the blob store only as ciphertext, while the API (and the CLI through the
// API's codec server) reads it in plain text. A marker string rides in an
// OCRed document, the filename and text of its upload, a fetched page, and
// a failure message; it is then looked for, as text and as base64, in every
// file the dev server and the blob store wrote, and in the jobs' histories
// as the CLI shows them without the codec. Two controls keep the absence
// from being an accident: the same histories shown through the codec do
// carry the marker, and a payload written without encryption (the CLI
// starting a workflow with no codec) is found in the same files by the same
// search.
func TestEncryptionHidesContentAtRest(t *testing.T) {
	ctx := t.Context()
	dataDir, blobDir := t.TempDir(), t.TempDir()
	srv, err := teststack.StartServerWith(ctx, teststack.ServerOptions{Fairness: true, DBFile: filepath.Join(dataDir, "temporal.db")})
	require.NoError(t, err)
	var stops []func()
	stopAll := sync.OnceFunc(func() {
		for _, stop := range slices.Backward(stops) {
			stop()
		}
	})
	t.Cleanup(stopAll)
	stops = append(stops, func() { _ = srv.Stop() })
	c := srv.Client()
	docs, err := teststack.NewStore(blobDir)
	require.NoError(t, err)
	stops = append(stops, func() { _ = docs.Close() })
	const queue = "docket-encryption-test"
	w, err := teststack.StartWorker(c, teststack.WorkerOptions{
		TaskQueue: queue, Identity: "encryption-test-worker", AllowHosts: []string{"127.0.0.1"}, Docs: docs,
	})
	require.NoError(t, err)
	stops = append(stops, w.Stop)
	base := teststack.StartAPI(c, queue, docs)
	stops = append(stops, base.Close)

	marker := ocrMarker(t)
	lower := strings.ToLower(marker)
	secret := markerNeedles(marker)

	// A scanned document whose text, and upload filename, is the marker,
	// read by OCR and the entity step.
	img, err := testdocs.PNG([]string{"Encrypted at rest", marker}, 56)
	require.NoError(t, err)
	up := upload(t, base.URL, img, "image/png", "scan-"+marker+".png")
	require.Equal(t, http.StatusCreated, up.Status, "body: %s", up.Body)
	var d struct {
		ID       string `json:"id"`
		Filename string `json:"filename"`
	}
	up.decode(t, &d)
	require.Contains(t, d.Filename, marker)
	docJob := submitAt(t, base.URL, job.TypeDocument, map[string]any{"document_id": d.ID, "steps": []string{job.StepOCR, job.StepEntities}})
	r := waitResultAt(t, base.URL, docJob)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var docRes documentResult
	r.decode(t, &docRes)
	require.Len(t, docRes.Result.PageTexts, 1)
	require.Contains(t, docRes.Result.PageTexts[0].Text, marker, "OCR must read the marker for its absence to mean anything")
	require.NotNil(t, docRes.Result.Entities)

	// A fetched page that carries the marker as its most frequent word,
	// and a page whose URL carries it and that answers 404: the failure
	// message names the URL.
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/page" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><body><p>%[1]s is a secret. %[1]s stays one. %[1]s.</p></body></html>", marker)
	}))
	defer page.Close()
	countJob := submitAt(t, base.URL, job.TypeWordcount, map[string]any{"url": page.URL + "/page", "top": 10})
	r = waitResultAt(t, base.URL, countJob)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var countRes struct {
		Result job.WordcountResult `json:"result"`
	}
	r.decode(t, &countRes)
	require.Contains(t, countRes.Result.Top, job.WordCount{Word: lower, Count: 3})

	failJob := submitAt(t, base.URL, job.TypeWordcount, map[string]any{"url": page.URL + "/gone/" + marker})
	require.Equal(t, http.StatusConflict, waitResultAt(t, base.URL, failJob).Status)
	failed := call(t, base.URL, http.MethodGet, "/jobs/"+failJob, nil, nil).view(t)
	require.Equal(t, job.StatusFailed, failed.Status)
	require.Equal(t, job.FailHTTPClientError, failed.Error.Type)
	require.Contains(t, failed.Error.Message, marker, "through the API the failure message is plain")

	// The control: a workflow started by the CLI without the codec has a
	// plain input. No worker polls its queue; it only has to be stored.
	control := "CONTROL" + strings.ToUpper(uuid.NewString()[:8])
	controlJob := "control-" + uuid.NewString()
	_, err = srv.CLIOutput(ctx, "workflow", "start", "--type", job.TypeSum, "--task-queue", "docket-encryption-test-idle",
		"--workflow-id", controlJob, "--input", fmt.Sprintf(`{"start":1,"end":2,"note":%q}`, control))
	require.NoError(t, err)
	plain := markerNeedles(control)
	// Read through the API it has no input (its memo has none), and that
	// is no error.
	cv := call(t, base.URL, http.MethodGet, "/jobs/"+controlJob, nil, nil).view(t)
	require.Equal(t, job.StatusQueued, cv.Status)
	require.Nil(t, cv.Input)

	// The histories, as the CLI shows them: without the codec nothing but
	// the search attributes is plain and the marker is nowhere; with the
	// API's codec server the marker is there.
	for _, id := range []string{docJob, countJob, failJob} {
		out, err := srv.CLIOutput(ctx, "workflow", "show", "--workflow-id", id, "--output", "json")
		require.NoError(t, err)
		require.Empty(t, foundIn(out, secret), "job %s's history shows the marker without the codec", id)
		keys := historyPayloadKeys(t, out)
		require.Equal(t, []string{teststack.Ring().Active()}, mapKeys(keys), "every payload of job %s's history but its search attributes is encrypted, under the active key", id)

		decoded, err := srv.CLIOutput(ctx, "workflow", "show", "--workflow-id", id, "--output", "json", "--codec-endpoint", base.URL+"/codec")
		require.NoError(t, err)
		require.NotEmpty(t, foundIn(decoded, secret), "job %s's history decoded through the codec server lacks the marker", id)
	}
	out, err := srv.CLIOutput(ctx, "workflow", "show", "--workflow-id", controlJob, "--output", "json")
	require.NoError(t, err)
	require.NotEmpty(t, foundIn(out, plain), "the control's plain input: %s", out)

	// The files: the blob store holds neither the marker nor the uploaded
	// bytes; the dev server's database holds the control but not the
	// marker, while it runs (WAL) and once it has stopped (checkpointed).
	blobs := readTree(t, blobDir)
	require.NotEmpty(t, blobs)
	window := img[len(img)/2 : len(img)/2+256]
	for path, b := range blobs {
		require.Empty(t, foundIn(b, secret), "%s shows the marker", path)
		require.False(t, bytes.Contains(b, window), "%s holds the uploaded document's bytes", path)
	}
	checkDB := func(when string) {
		files := readTree(t, dataDir)
		require.Contains(t, files, filepath.Join(dataDir, "temporal.db"))
		var controlSeen bool
		for path, b := range files {
			require.Empty(t, foundIn(b, secret), "%s: %s shows the marker", when, path)
			controlSeen = controlSeen || len(foundIn(b, plain)) > 0
		}
		require.True(t, controlSeen, "%s: the control's plain input is in none of %v, so the search proves nothing", when, mapKeys(files))
	}
	checkDB("while the server runs")
	stopAll()
	checkDB("after the server stopped")
}

// ocrMarker is "MARKER" and ten random letters that tesseract reads
// reliably in testdocs' font at 56 px: letters only (a digit among
// letters is read as another digit, a letter, or split off: 3 in 25 of
// such markers failed, and none of 200 of these), and none that it
// confuses with others (O, I, L, S, B, Z, G, U, V).
func ocrMarker(t *testing.T) string {
	t.Helper()
	const alphabet = "ACDEFHKMNPRTWXY"
	b := make([]byte, 10)
	_, err := rand.Read(b)
	require.NoError(t, err)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "MARKER" + string(b)
}

// markerNeedles are the forms in which s would show if it were stored
// unencrypted: itself in either case (searched case-insensitively), and its
// upper- and lower-case forms in base64 (as protojson writes bytes) at each
// of the three alignments a base64 encoding can start it at.
func markerNeedles(s string) [][]byte {
	needles := [][]byte{[]byte(strings.ToLower(s))}
	for _, form := range []string{s, strings.ToLower(s), strings.ToUpper(s)} {
		for k := range 3 {
			enc := base64.StdEncoding.EncodeToString(append(make([]byte, k), form...))
			// The characters that depend on form's bytes only.
			from, to := (8*k+5)/6, 8*(k+len(form))/6
			needles = append(needles, []byte(enc[from:to]))
		}
	}
	return needles
}

// foundIn returns the needles found in b; the first, the plain form, is
// looked for case-insensitively.
func foundIn(b []byte, needles [][]byte) []string {
	var found []string
	if bytes.Contains(bytes.ToLower(b), needles[0]) {
		found = append(found, string(needles[0]))
	}
	for _, n := range needles[1:] {
		if bytes.Contains(b, n) {
			found = append(found, string(n))
		}
	}
	return found
}

// readTree reads every regular file under dir.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			return nil // the -wal and -shm files go at a checkpoint
		}
		files[path] = b
		return err
	})
	require.NoError(t, err)
	return files
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// historyPayloadKeys counts the payloads of a history (the temporal CLI's
// JSON) by the id of the key that encrypted them, failing the test on a
// plain payload anywhere but in search attributes, which are plain by
// design (the service indexes them).
func historyPayloadKeys(t *testing.T, historyJSON []byte) map[string]int {
	t.Helper()
	h, err := client.HistoryFromJSON(bytes.NewReader(historyJSON), client.HistoryJSONOptions{})
	require.NoError(t, err)
	keys := map[string]int{}
	var walk func(path string, m protoreflect.Message)
	walk = func(path string, m protoreflect.Message) {
		switch v := m.Interface().(type) {
		case *commonpb.SearchAttributes:
			return
		case *commonpb.Payload:
			require.Equal(t, crypt.EncodingEncrypted, string(v.GetMetadata()["encoding"]), "a plain payload at %s", path)
			keys[string(v.GetMetadata()[crypt.MetadataKeyID])]++
			return
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			p := path + "." + string(fd.Name())
			switch {
			case fd.IsList() && fd.Message() != nil:
				for i := range v.List().Len() {
					walk(fmt.Sprintf("%s[%d]", p, i), v.List().Get(i).Message())
				}
			case fd.IsMap() && fd.MapValue().Message() != nil:
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					walk(p+"["+k.String()+"]", mv.Message())
					return true
				})
			case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
				walk(p, v.Message())
			}
			return true
		})
	}
	for i, e := range h.GetEvents() {
		walk(fmt.Sprintf("events[%d](%s)", i, e.GetEventType()), e.ProtoReflect())
	}
	return keys
}

// submitAt starts a job through the API at base and returns its id.
func submitAt(t *testing.T, base, typ string, input any) string {
	t.Helper()
	r := call(t, base, http.MethodPost, "/jobs", jsonBody(t, map[string]any{"type": typ, "input": input}), nil)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	return r.view(t).ID
}

// A key rotation with jobs in flight: a job started under ring A = [k1]
// finishes on a worker of ring B = [k2, k1] (new key first, old one still
// there to read), which reads what A wrote, and its mixed history replays
// with ring B. Once k1 is retired (ring C = [k2]) what it encrypted is
// unreadable, and the API says so rather than answering as if nothing were
// missing.
func TestEncryptionKeyRotation(t *testing.T) {
	k1, k2 := randomKey(t), randomKey(t)
	ringA := parseRing(t, "k1", k1)
	ringB := parseRing(t, "k2", k2, "k1", k1)
	ringC := parseRing(t, "k2", k2)
	queue := "docket-rotation-" + uuid.NewString()[:8]

	// Ring A: the job starts and runs.
	cA := dialRing(t, ringA)
	apiA := serveRing(t, cA, queue, ringA, teststack.Logger())
	stopA := startRingWorker(t, cA, queue, "rotation-worker-a")
	request := jsonBody(t, map[string]any{"type": job.TypeSum, "input": map[string]any{"start": 1, "end": 1000, "work_ms": 8000}})
	idempotent := http.Header{"Idempotency-Key": {"rotation-" + uuid.NewString()}}
	r := call(t, apiA.URL, http.MethodPost, "/jobs", request, idempotent)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	id := r.view(t).ID
	waitFor(t, apiA.URL, id, func(v job.View) bool {
		return v.Status == job.StatusRunning && len(v.Steps) == 1 && v.Steps[0].Worker == "rotation-worker-a" &&
			v.Steps[0].Progress != nil && v.Steps[0].Progress.Done > 0
	})
	stopA()

	// Ring B: the job finishes, and reads as it should.
	cB := dialRing(t, ringB)
	apiB := serveRing(t, cB, queue, ringB, teststack.Logger())
	stopB := startRingWorker(t, cB, queue, "rotation-worker-b")
	r = waitResultAt(t, apiB.URL, id)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	require.JSONEq(t, `{"sum":500500,"count":1000}`, string(extractResult(t, r)))
	v := call(t, apiB.URL, http.MethodGet, "/jobs/"+id, nil, nil).view(t)
	require.Equal(t, job.StatusSucceeded, v.Status)
	require.JSONEq(t, `{"start":1,"end":1000,"work_ms":8000}`, string(jsonBody(t, v.Input)))
	require.Len(t, v.Steps, 1)
	require.Equal(t, "rotation-worker-b", v.Steps[0].Worker)
	again := call(t, apiB.URL, http.MethodPost, "/jobs", request, idempotent)
	require.Equal(t, http.StatusOK, again.Status, "a retry of the request under ring B is the same job: %s", again.Body)
	require.Equal(t, id, again.view(t).ID)

	// The history mixes both keys, and replays with ring B, not with C.
	hist, err := stack.server.CLIOutput(t.Context(), "workflow", "show", "--workflow-id", id, "--output", "json")
	require.NoError(t, err)
	keys := historyPayloadKeys(t, hist)
	require.Equal(t, []string{"k1", "k2"}, mapKeys(keys), "payloads by key: %v", keys)
	file := filepath.Join(t.TempDir(), "history.json")
	require.NoError(t, os.WriteFile(file, hist, 0o600))
	require.NoError(t, replay(t, ringB, file))
	// Without k1 the workflow's input does not decode, so the replay
	// cannot re-make the history's commands (the SDK reports that, not
	// the decoding error).
	require.Error(t, replay(t, ringC, file))

	// Ring C, k1 retired: what k1 encrypted (the job's input, in its memo
	// and its history) cannot be read, and the API says so rather than
	// show the job as if it had no input, or take a retry of its request
	// for a different one. Its result, written after the rotation, is
	// under k2 and still reads.
	stopB()
	cC := dialRing(t, ringC)
	var log lockedBuffer
	apiC := serveRing(t, cC, queue, ringC, slog.New(slog.NewTextHandler(&log, nil)))
	startRingWorker(t, cC, queue, "rotation-worker-c")
	for _, tc := range []struct {
		method, path string
		body         []byte
		header       http.Header
	}{
		{http.MethodGet, "/jobs/" + id, nil, nil},
		{http.MethodPost, "/jobs", request, idempotent},
	} {
		got := call(t, apiC.URL, tc.method, tc.path, tc.body, tc.header)
		require.Equal(t, http.StatusServiceUnavailable, got.Status, "%s %s: %s", tc.method, tc.path, got.Body)
		require.Equal(t, "https://docket.dev/problems/encryption-key-missing", got.problem(t).Type)
	}
	require.Contains(t, log.String(), `key \"k1\": encryption key is not in the key ring`)
	r = call(t, apiC.URL, http.MethodGet, "/jobs/"+id+"/results", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	require.JSONEq(t, `{"sum":500500,"count":1000}`, string(extractResult(t, r)))
}

func randomKey(t *testing.T) string {
	t.Helper()
	key := make([]byte, crypt.KeySize)
	_, err := rand.Read(key)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(key)
}

// parseRing makes a ring of the keys given as id, key pairs, in order.
func parseRing(t *testing.T, idKeys ...string) *crypt.Ring {
	t.Helper()
	var f struct {
		Keys []map[string]string `json:"keys"`
	}
	for i := 0; i+1 < len(idKeys); i += 2 {
		f.Keys = append(f.Keys, map[string]string{"id": idKeys[i], "key": idKeys[i+1]})
	}
	r, err := crypt.ParseRing(context.Background(), jsonBody(t, f), nil)
	require.NoError(t, err)
	return r
}

// dialRing dials the shared dev server with ring's converters, as
// config.Dial would with ring's file.
func dialRing(t *testing.T, ring *crypt.Ring) client.Client {
	t.Helper()
	dc := crypt.DataConverter(ring)
	c, err := client.Dial(client.Options{
		HostPort: stack.server.Address(), DataConverter: dc, FailureConverter: crypt.FailureConverter(dc),
		Logger: tlog.NewStructuredLogger(teststack.Logger()),
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// serveRing serves the API of teststack.Config(queue) with ring instead of
// the test ring.
func serveRing(t *testing.T, c client.Client, queue string, ring *crypt.Ring, log *slog.Logger) *httptest.Server {
	t.Helper()
	cfg := teststack.Config(queue)
	cfg.EncryptionKeysFile, cfg.Ring = "", ring
	s := api.New(c, cfg, nil, log)
	s.CallTimeout = 5 * time.Second
	ts := teststack.Serve(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

// startRingWorker starts a worker on c, whose converters carry its ring,
// and returns its stop (which the test's end calls too).
func startRingWorker(t *testing.T, c client.Client, queue, identity string) (stop func()) {
	t.Helper()
	w, err := teststack.StartWorker(c, teststack.WorkerOptions{TaskQueue: queue, Identity: identity})
	require.NoError(t, err)
	stop = sync.OnceFunc(w.Stop)
	t.Cleanup(stop)
	return stop
}

// replay replays the history in file with ring's converters.
func replay(t *testing.T, ring *crypt.Ring, file string) error {
	t.Helper()
	dc := crypt.DataConverter(ring)
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: dc, FailureConverter: crypt.FailureConverter(dc)})
	require.NoError(t, err)
	workflows.Register(r)
	return r.ReplayWorkflowHistoryFromJSONFile(tlog.NewStructuredLogger(teststack.Logger()), file)
}

// lockedBuffer is a log destination that handlers on several goroutines
// may write to while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
