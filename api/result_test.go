package api_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/tools/teststack"
)

// describeCounter counts the DescribeWorkflowExecution calls a client
// sends, its SDK's own included.
func describeCounter(n *atomic.Int64) grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if strings.HasSuffix(method, "/DescribeWorkflowExecution") {
			n.Add(1)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	})
}

// Submit then wait, the common client loop, costs Temporal no describe when
// the result is read through the replica that accepted the job; any other
// replica reads the job from Temporal and gives the same answer.
func TestResultThroughTheAcceptingReplicaNeedsNoDescribe(t *testing.T) {
	var describes atomic.Int64
	cfg := teststack.Config(taskQueue)
	counted, err := client.Dial(client.Options{HostPort: stack.server.Address(),
		DataConverter: cfg.DataConverter(), FailureConverter: cfg.FailureConverter(),
		ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{describeCounter(&describes)}}})
	require.NoError(t, err)
	defer counted.Close()
	accepting := teststack.StartAPI(counted, taskQueue, nil)
	defer accepting.Close()

	r := call(t, accepting.URL, http.MethodPost, "/jobs", []byte(`{"type":"sum","input":{"start":1,"end":100}}`),
		http.Header{"Content-Type": {"application/json"}})
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	id := r.view(t).ID

	var here, elsewhere struct {
		ID     string     `json:"id"`
		Type   string     `json:"type"`
		Status job.Status `json:"status"`
		Result struct {
			Sum int64 `json:"sum"`
		} `json:"result"`
	}
	waitResultAt(t, accepting.URL, id).decode(t, &here)
	require.Zero(t, describes.Load(), "describes by the accepting replica")
	waitResultAt(t, stack.api.URL, id).decode(t, &elsewhere)
	require.Equal(t, elsewhere, here)
	require.Equal(t, "sum", here.Type)
	require.Equal(t, job.StatusSucceeded, here.Status)
	require.EqualValues(t, 5050, here.Result.Sum)
}
