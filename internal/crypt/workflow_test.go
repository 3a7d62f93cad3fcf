package crypt_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/docket-dev/docket/internal/crypt"
)

// wire records every payload as it leaves the converters, that is, as the
// Temporal service would store it. It sits outside the ring's codec
// (NewCodecDataConverter(crypt.DataConverter(r), wire)), so it sees
// ciphertext.
type wire struct {
	mu       sync.Mutex
	payloads []*commonpb.Payload
}

func (w *wire) Encode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.payloads = append(w.payloads, ps...)
	return ps, nil
}

func (w *wire) Decode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) { return ps, nil }

func (w *wire) seen() []*commonpb.Payload {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*commonpb.Payload(nil), w.payloads...)
}

// greetActivity returns its input changed, or fails quoting it.
func greetActivity(_ context.Context, name string) (string, error) {
	if strings.HasPrefix(name, "fail:") {
		return "", temporal.NewNonRetryableApplicationError("cannot greet "+name, "GreetFailed", nil)
	}
	return "hello, " + name, nil
}

// greetWorkflow passes its input to greetActivity and returns its result
// or its failure.
func greetWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	var out string
	err := workflow.ExecuteActivity(ctx, greetActivity, name).Get(ctx, &out)
	return out, err
}

// A workflow's input, an activity's input and result, the workflow's
// result, and a failure's message go through the ring's converters in the
// SDK's test environment and come back equal, while everything that would
// reach the service is encrypted.
func TestWorkflowThroughConverters(t *testing.T) {
	r := newKeySet(t, "k1").ring(t, "k1")
	tests := []struct {
		name       string
		input      string
		wantResult string
		wantErr    string
	}{
		{"result", "Ada Lovelace", "hello, Ada Lovelace", ""},
		{"failure", "fail:Ada Lovelace", "", "cannot greet fail:Ada Lovelace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &wire{}
			dc := converter.NewCodecDataConverter(crypt.DataConverter(r), w)
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestWorkflowEnvironment()
			env.SetDataConverter(dc)
			env.SetFailureConverter(crypt.FailureConverter(dc))
			env.RegisterWorkflow(greetWorkflow)
			env.RegisterActivity(greetActivity)

			env.ExecuteWorkflow(greetWorkflow, tt.input)
			require.True(t, env.IsWorkflowCompleted())
			if tt.wantErr != "" {
				err := env.GetWorkflowError()
				var appErr *temporal.ApplicationError
				require.ErrorAs(t, err, &appErr)
				require.Equal(t, tt.wantErr, appErr.Message())
				require.Equal(t, "GreetFailed", appErr.Type())
			} else {
				require.NoError(t, env.GetWorkflowError())
				var got string
				require.NoError(t, env.GetWorkflowResult(&got))
				require.Equal(t, tt.wantResult, got)
			}

			// Every payload on the wire is encrypted, none quotes the
			// input, and together they hold the input, the result or
			// the failure message: the converters were used, not passed by.
			seen := w.seen()
			require.NotEmpty(t, seen)
			var plain [][]byte
			for _, p := range seen {
				require.Equal(t, crypt.EncodingEncrypted, string(p.GetMetadata()["encoding"]))
				require.False(t, bytes.Contains(p.GetData(), []byte("Lovelace")), "plaintext on the wire")
				dec, err := r.Codec().Decode([]*commonpb.Payload{p})
				require.NoError(t, err)
				plain = append(plain, dec[0].GetData())
			}
			all := string(bytes.Join(plain, []byte("\n")))
			require.Contains(t, all, `"`+tt.input+`"`)
			if tt.wantErr != "" {
				require.Contains(t, all, `"message":"`+tt.wantErr+`"`)
			} else {
				require.Contains(t, all, `"`+tt.wantResult+`"`)
			}
		})
	}
}
