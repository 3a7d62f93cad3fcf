package chaos

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// ScriptTopology is the native cluster of `make cluster`, controlled
// through cluster/cluster.sh, which knows how each component is started.
type ScriptTopology struct {
	Script string
	env    map[string]string
}

// NewScriptTopology reads the cluster's addresses from `cluster.sh env`.
func NewScriptTopology(ctx context.Context, script string) (*ScriptTopology, error) {
	out, err := runScript(ctx, script, time.Minute, "env")
	if err != nil {
		return nil, err
	}
	t := &ScriptTopology{Script: script, env: map[string]string{}}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			t.env[k] = v
		}
	}
	for _, k := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "DOCKET_CLUSTER_API_URLS", "DOCKET_CLUSTER_APIS", "DOCKET_CLUSTER_WORKERS"} {
		if t.env[k] == "" {
			return nil, fmt.Errorf("%s env did not say %s", script, k)
		}
	}
	return t, nil
}

func runScript(ctx context.Context, script string, limit time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The script starts components in their own sessions; nothing it
	// starts keeps these pipes open.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", script, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func (t *ScriptTopology) APIURLs() []string { return strings.Fields(t.env["DOCKET_CLUSTER_API_URLS"]) }

// APIKey is the key the cluster's replicas accept (DOCKET_CLUSTER_API_KEY
// of the script's env); "" when they serve without keys.
func (t *ScriptTopology) APIKey() string { return t.env["DOCKET_CLUSTER_API_KEY"] }

// WebhookSecretFile is the file of the cluster's webhook signing secret
// (DOCKET_CLUSTER_WEBHOOK_SECRET_FILE of the script's env).
func (t *ScriptTopology) WebhookSecretFile() string {
	return t.env["DOCKET_CLUSTER_WEBHOOK_SECRET_FILE"]
}

// EncryptionKeysFile is the cluster's key ring
// (DOCKET_CLUSTER_ENCRYPTION_KEYS_FILE of the script's env).
func (t *ScriptTopology) EncryptionKeysFile() string {
	return t.env["DOCKET_CLUSTER_ENCRYPTION_KEYS_FILE"]
}

func (t *ScriptTopology) APIs() []string          { return strings.Fields(t.env["DOCKET_CLUSTER_APIS"]) }
func (t *ScriptTopology) Workers() []string       { return strings.Fields(t.env["DOCKET_CLUSTER_WORKERS"]) }
func (t *ScriptTopology) TemporalAddress() string { return t.env["TEMPORAL_ADDRESS"] }
func (t *ScriptTopology) Namespace() string       { return t.env["TEMPORAL_NAMESPACE"] }

func (t *ScriptTopology) Start(ctx context.Context, name string) error {
	_, err := runScript(ctx, t.Script, 3*time.Minute, "start-one", name)
	return err
}

func (t *ScriptTopology) Stop(ctx context.Context, name string) error {
	_, err := runScript(ctx, t.Script, 2*time.Minute, "stop-one", name)
	return err
}

func (t *ScriptTopology) Kill(ctx context.Context, name string) error {
	_, err := runScript(ctx, t.Script, time.Minute, "kill-one", name, "KILL")
	return err
}

func (t *ScriptTopology) Pid(ctx context.Context, name string) (int, error) {
	out, err := runScript(ctx, t.Script, time.Minute, "pid", name)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return 0, fmt.Errorf("%s is not running", name)
	}
	return pid, nil
}
