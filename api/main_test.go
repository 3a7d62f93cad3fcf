package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/internal/webhook"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/tools/teststack"
)

// The API tests share one real dev server, one worker and one API server.
var (
	stack struct {
		server *teststack.Server
		api    *httptest.Server
		jobs   *job.Client
		docs   *documents.Store
		// idleQueue is a task queue no worker polls: jobs on it stay QUEUED.
		idleAPI *httptest.Server
		// webhookSecret is the worker's DOCKET_WEBHOOK_SECRET.
		webhookSecret webhook.Secret
	}
	taskQueue = "docket-api-test"
)

const workerIdentity = "api-test-worker"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := teststack.StartServer(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = srv.Stop() }()
	c := srv.Client()
	dir, err := os.MkdirTemp("", "docket-api-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	docs, err := teststack.NewStore(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer docs.Close()
	if stack.webhookSecret, err = webhook.NewSecret(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	w, err := teststack.StartWorker(c, teststack.WorkerOptions{
		TaskQueue: taskQueue, Identity: workerIdentity, AllowHosts: []string{"127.0.0.1"}, Docs: docs,
		WebhookSecret: stack.webhookSecret,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer w.Stop()

	stack.server = srv
	served := teststack.API(c, taskQueue, docs)
	allowLoopbackHooks(served)
	stack.jobs = served.Jobs.(*job.Client)
	stack.docs = docs
	stack.api = teststack.Serve(served.Handler())
	defer stack.api.Close()
	stack.idleAPI = teststack.StartAPI(c, "docket-api-test-idle", nil)
	defer stack.idleAPI.Close()
	return m.Run()
}
