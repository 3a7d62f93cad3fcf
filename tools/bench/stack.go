package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

// Storage is how a dev server keeps its state.
type Storage struct {
	Name    string   // short label used in tables
	File    bool     // a SQLite file rather than memory
	Pragmas []string // --sqlite-pragma values
	Risk    string   // what the setting risks, for the report
}

var (
	storageMemory = Storage{Name: "memory",
		Risk: "everything is lost when the server process stops"}
	storageFileDefault = Storage{Name: "sqlite-default", File: true,
		Risk: "nothing short of disk loss: rollback journal, fsync on every commit (synchronous=FULL)"}
	// storageFileWAL is scripts/run.sh's (make run).
	storageFileWAL = Storage{Name: "sqlite-wal-normal", File: true, Pragmas: []string{"journal_mode=wal", "synchronous=NORMAL"},
		Risk: "a crash of the server process loses nothing; an OS crash or power loss can lose the last commits (WAL is fsynced only at checkpoints); the file stays consistent"}
	storageFileWALFull = Storage{Name: "sqlite-wal-full", File: true, Pragmas: []string{"journal_mode=wal", "synchronous=FULL"},
		Risk: "nothing short of disk loss: the WAL is fsynced on every commit"}
)

// Tuning is a set of --dynamic-config-value settings.
type Tuning struct {
	Name   string
	Values []string // KEY=JSON
}

var (
	tuningDefault = Tuning{Name: "default"}
	// tuningNoQuantum removes the dispatch quantum (see BENCHMARKS.md,
	// scenario 3): the history service's transfer queue reader is rate
	// limited to 20 reads per second per shard and the dev server has one
	// shard, so every workflow or activity task waits up to 50 ms before
	// matching sees it. Eager activity execution hands the first activity
	// to the worker in the reply to its workflow task completion. Neither
	// changes what is persisted or when. The visibility queue keeps its
	// default rate: it is not on a job's path, and reading it at 1000/s cost
	// the server ~22% more CPU per job (one queue slice per task, merged
	// with every pending one).
	tuningNoQuantum = Tuning{Name: "no-quantum", Values: []string{
		"history.transferProcessorMaxPollRPS=1000",
		"system.enableActivityEagerExecution=true",
	}}
	// tuningFast is make run's: also one partition per task queue. Four
	// (the default) spread a queue's few pollers over partitions, and a
	// task that lands on a partition with no poller waiting is forwarded or
	// backlogged while another partition's poller sits idle. And fairness
	// between tenants (the tenant is each job's fairness key), which also
	// turns on the matcher that priority keys need.
	tuningFast = Tuning{Name: "tuned", Values: append(slices.Clip(tuningNoQuantum.Values),
		"matching.numTaskqueueReadPartitions=1",
		"matching.numTaskqueueWritePartitions=1",
		"matching.enableFairness=true",
	)}
)

// Server is a Temporal dev server from the pinned CLI.
type Server struct {
	Name    string
	Addr    string
	Metrics string // host:port of the Prometheus endpoint
	Storage Storage
	Tuning  Tuning
	proc    *Proc
	client  client.Client
}

// Stack is a server with Docket's worker and API processes on it.
type Stack struct {
	*Server
	Worker    *Proc
	API       *Proc
	APIURL    string
	TaskQueue string
}

// Env holds what every start needs: the work folder and the binaries.
type Env struct {
	Dir      string // scratch folder: databases and logs
	Temporal string // the pinned CLI
	Bin      string // folder with worker and docket-api
	Log      *slog.Logger
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartServer starts a headless dev server and waits until it answers.
func (e *Env) StartServer(ctx context.Context, name string, st Storage, tu Tuning) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	mport, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", fmt.Sprint(port), "--metrics-port", fmt.Sprint(mport),
		"--search-attribute", "DocketStatus=Keyword", "--search-attribute", "DocketTenant=Keyword", "--log-level", "warn"}
	if st.File {
		db := filepath.Join(e.Dir, name+".db")
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			_ = os.Remove(db + suffix)
		}
		args = append(args, "--db-filename", db)
		for _, p := range st.Pragmas {
			args = append(args, "--sqlite-pragma", p)
		}
	}
	for _, v := range tu.Values {
		args = append(args, "--dynamic-config-value", v)
	}
	p, err := startProc("server-"+name, filepath.Join(e.Dir, "server-"+name+".log"), nil, e.Temporal, args...)
	if err != nil {
		return nil, err
	}
	s := &Server{Name: name, Addr: fmt.Sprintf("127.0.0.1:%d", port), Metrics: fmt.Sprintf("127.0.0.1:%d", mport), Storage: st, Tuning: tu, proc: p}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if p.Exited() {
			p.Stop(0)
			return nil, fmt.Errorf("dev server %s exited:\n%s", name, p.Tail(20))
		}
		c, err := client.Dial(client.Options{HostPort: s.Addr, Logger: tlog.NewStructuredLogger(e.Log),
			// As Docket's processes dial a loopback server (config.Dial), so
			// that the comparisons measure Docket, not gzip.
			ConnectionOptions: client.ConnectionOptions{GrpcCompression: &client.GrpcCompressionNone{}}})
		if err == nil {
			s.client = c
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.Stop(5 * time.Second)
			return nil, fmt.Errorf("dev server %s not ready: %v", name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The search attributes are registered at start; wait until they are
	// usable. DocketTenant is what a job started with a tenant's key carries
	// (scenarios 7 to 9); without it such starts fail.
	err = waitFor(ctx, 30*time.Second, func() error {
		_, err := s.client.ListWorkflow(ctx, listReq("DocketStatus = 'QUEUED' AND DocketTenant = 'bench'"))
		return err
	})
	if err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Stop stops the server (its client first).
func (s *Server) Stop() {
	if s == nil {
		return
	}
	if s.client != nil {
		s.client.Close()
	}
	s.proc.Stop(10 * time.Second)
}

// PID of the server process.
func (s *Server) PID() int { return s.proc.PID() }

// StartStack starts a worker and an API on s for taskQueue. A worker is
// started only when withWorker is set (scenario 1 wants a queue nobody polls).
func (e *Env) StartStack(ctx context.Context, s *Server, taskQueue string, withWorker bool) (*Stack, error) {
	return e.StartStackEnv(ctx, s, taskQueue, withWorker, nil)
}

// dataDir is the DOCKET_DATA_DIR of a stack's worker and API: their blob
// store is its blobs folder.
func (e *Env) dataDir(s *Server, taskQueue string) string {
	return filepath.Join(e.Dir, "data-"+s.Name+"-"+taskQueue)
}

// envEncryptionKeys names the key ring of Docket's processes; set, every
// Temporal payload they write is encrypted and every object they store is
// sealed.
const envEncryptionKeys = "DOCKET_ENCRYPTION_KEYS_FILE"

// hasEnv says whether env sets name to something not empty.
func hasEnv(env []string, name string) bool {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name && v != "" {
			return true
		}
	}
	return false
}

// stackEnv is the environment of a stack's worker and API processes.
func (e *Env) stackEnv(s *Server, taskQueue string) []string {
	// The worker and the API share a blob store (uploaded documents, page
	// texts) in the scratch folder, not the repository's .data; the worker
	// OCRs as many documents at once as scenario 5's raw tesseract runs.
	return []string{
		"TEMPORAL_ADDRESS=" + s.Addr,
		"TEMPORAL_NAMESPACE=default",
		"DOCKET_TASK_QUEUE=" + taskQueue,
		"DOCKET_LOG_LEVEL=warn",
		"DOCKET_DATA_DIR=" + e.dataDir(s, taskQueue),
		fmt.Sprintf("DOCKET_OCR_CONCURRENCY=%d", ocrConcurrency()),
		// Blocks run the same documents again: without this the OCR cache
		// would answer every block after the first, and scenario 5 would
		// measure blob reads, not OCR. Scenario 14 turns it back on to
		// measure the cache itself.
		"DOCKET_OCR_CACHE=false",
	}
}

// StartStackEnv is StartStack with apiEnv added to the API's environment
// (scenarios 7 to 9 give it DOCKET_API_KEYS_FILE).
func (e *Env) StartStackEnv(ctx context.Context, s *Server, taskQueue string, withWorker bool, apiEnv []string) (*Stack, error) {
	return e.StartStackWith(ctx, s, taskQueue, withWorker, apiEnv, nil)
}

// StartStackWith is StartStackEnv with workerEnv added to the worker's
// environment (scenario 10 gives both DOCKET_ENCRYPTION_KEYS_FILE).
func (e *Env) StartStackWith(ctx context.Context, s *Server, taskQueue string, withWorker bool, apiEnv, workerEnv []string) (*Stack, error) {
	st := &Stack{Server: s, TaskQueue: taskQueue}
	tag := s.Name + "-" + taskQueue
	if withWorker {
		env := append(e.stackEnv(s, taskQueue), workerEnv...)
		w, err := startProc("worker-"+tag, filepath.Join(e.Dir, "worker-"+tag+".log"), env, filepath.Join(e.Bin, "worker"))
		if err != nil {
			return nil, err
		}
		st.Worker = w
	}
	a, url, err := e.StartAPI(ctx, s, taskQueue, tag, apiEnv)
	if err != nil {
		st.Stop()
		return nil, err
	}
	st.API, st.APIURL = a, url
	if st.Worker != nil && st.Worker.Exited() {
		st.Stop()
		return nil, fmt.Errorf("worker exited:\n%s", st.Worker.Tail(20))
	}
	if withWorker {
		// A job end to end proves the worker polls before anything is timed.
		// A worker with a key ring encrypts the result, which this
		// program's client has no key for: then only its completion is
		// checked (the API, which has the ring, reads results).
		probe := &sdkJobs{c: s.client, taskQueue: taskQueue, opaque: hasEnv(workerEnv, envEncryptionKeys)}
		err = waitFor(ctx, 30*time.Second, func() error {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_, err := probe.run(cctx)
			return err
		})
		if err != nil {
			st.Stop()
			return nil, fmt.Errorf("worker on %s does not run jobs: %w", tag, err)
		}
	}
	return st, nil
}

// StartAPI starts a docket-api process on s for taskQueue, named tag in
// logs, with env added to the stack's environment, and waits until it is
// ready. It returns the process and the API's base URL.
func (e *Env) StartAPI(ctx context.Context, s *Server, taskQueue, tag string, env []string) (*Proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	env = append(append(e.stackEnv(s, taskQueue), env...), fmt.Sprintf("DOCKET_HTTP_ADDR=127.0.0.1:%d", port))
	a, err := startProc("api-"+tag, filepath.Join(e.Dir, "api-"+tag+".log"), env, filepath.Join(e.Bin, "docket-api"))
	if err != nil {
		return nil, "", err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	err = waitFor(ctx, 30*time.Second, func() error {
		if a.Exited() {
			return fmt.Errorf("api exited:\n%s", a.Tail(20))
		}
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		a.Stop(10 * time.Second)
		return nil, "", err
	}
	return a, url, nil
}

// Stop stops the API and the worker (not the server).
func (st *Stack) Stop() {
	st.API.Stop(10 * time.Second)
	st.Worker.Stop(10 * time.Second)
}

// Processes names the stack's processes for footprint tables.
func (st *Stack) Processes() []*Proc {
	var ps []*Proc
	for _, p := range []*Proc{st.API, st.Worker, st.proc} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

func waitFor(ctx context.Context, d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if strings.Contains(err.Error(), "exited") {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stackSpec names a server and its storage and tuning, and what more the
// API's environment holds.
type stackSpec struct {
	name    string
	storage Storage
	tuning  Tuning
	apiEnv  []string
}

// startStacks starts a server with a worker and an API on task queue
// docket for each spec, in parallel. On error every stack started is
// stopped.
func (e *Env) startStacks(ctx context.Context, specs []stackSpec) ([]*Stack, error) {
	stacks := make([]*Stack, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, sp := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := e.StartServer(ctx, sp.name, sp.storage, sp.tuning)
			if err != nil {
				errs[i] = err
				s.Stop()
				return
			}
			st, err := e.StartStackEnv(ctx, s, "docket", true, sp.apiEnv)
			if err != nil {
				errs[i] = err
				s.Stop()
				return
			}
			stacks[i] = st
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		stopStacks(stacks)
		return nil, err
	}
	return stacks, nil
}

// stopStacks stops stacks and their servers.
func stopStacks(stacks []*Stack) {
	for _, st := range stacks {
		if st != nil {
			st.Stop()
			st.Server.Stop()
		}
	}
}
