package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/webhook"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

// composeWebhookSecret is where compose keeps the server's webhook signing
// secret: on the keys volume, next to the key ring.
const composeWebhookSecret = "/etc/docket/keys/webhook-secret"

// buildDocketAPI builds the real docket-api binary, whose webhook-secret
// command the compose and cluster scripts run.
func buildDocketAPI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "docket-api")
	build := exec.Command("go", "build", "-o", bin, "./api/cmd/docket-api")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// requireSecretFile checks a webhook secret file as the workers read it:
// it parses, and only its owner can read it.
func requireSecretFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err, "the webhook signing secret was made")
	_, err = webhook.ParseSecret(string(b))
	require.NoError(t, err, "the secret file holds a whsec_ secret")
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	return b
}

// Every compose worker that delivers webhooks (the role polling
// deliver_webhook's queue) reads the signing secret api-keys makes from
// the keys volume, by file: no Docket service has the secret itself in its
// environment. Without it, deliveries to a job's notify URL fail with
// webhook_no_secret.
func TestComposeWebhookSecret(t *testing.T) {
	p := loadCompose(t, nil)
	require.Contains(t, strings.Join(service(t, p, "api-keys").Command, " "), "webhook-secret new "+composeWebhookSecret)
	deliverQueue := steps.Deliver.Queue.On(job.TaskQueue)
	delivering := 0
	for name, wq := range workerQueues {
		s := service(t, p, name)
		if wq.queue != deliverQueue {
			continue
		}
		delivering++
		require.Equal(t, composeWebhookSecret, env(s, "DOCKET_WEBHOOK_SECRET_FILE"), "%s runs deliver_webhook", name)
		found := false
		for _, v := range s.Volumes {
			found = found || (v.Source == "keys" && v.Target == filepath.Dir(composeWebhookSecret) && v.ReadOnly)
		}
		require.True(t, found, "%s mounts the keys volume read-only", name)
		require.Contains(t, s.DependsOn, "api-keys", name)
	}
	require.Positive(t, delivering, "no compose worker polls %s, where deliver_webhook runs", deliverQueue)
	for _, name := range docketSvcs {
		_, literal := service(t, p, name).Environment["DOCKET_WEBHOOK_SECRET"]
		require.False(t, literal, "%s: the secret belongs in DOCKET_WEBHOOK_SECRET_FILE, not in the environment", name)
	}
}

// The api-keys script makes the webhook secret on first start and keeps
// it on later ones (receivers verify with it), also on a volume whose API
// key was made before the secret existed.
func TestComposeAPIKeysScriptMakesWebhookSecret(t *testing.T) {
	p := loadCompose(t, nil)
	script := strings.Join(service(t, p, "api-keys").Command, "\n")
	bin := buildDocketAPI(t)
	run := func(t *testing.T, dir string) {
		t.Helper()
		s := strings.ReplaceAll(strings.ReplaceAll(script, "/usr/local/bin/docket-api", bin), "/etc/docket/keys", dir)
		cmd := exec.Command("/bin/sh", "-ec", s)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DOCKET_API_KEY="}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.NotContains(t, string(out), "whsec_", "the secret is not printed")
	}
	dir := t.TempDir()
	run(t, dir)
	path := filepath.Join(dir, filepath.Base(composeWebhookSecret))
	before := requireSecretFile(t, path)
	run(t, dir)
	after := requireSecretFile(t, path)
	require.Equal(t, before, after, "a later start keeps the secret")

	// A keys volume from before webhooks: keys and ring, no secret.
	require.NoError(t, os.Remove(path))
	run(t, dir)
	requireSecretFile(t, path)
}

// make cluster makes its webhook secret on first start and hands its path
// to every worker (each serves every role, deliver_webhook's included):
// ensure_webhook_secret, taken from cluster.sh and run with the real
// docket-api, makes a secret file once and keeps it; the workers' launch
// passes DOCKET_WEBHOOK_SECRET_FILE; `cluster.sh env` names the file.
func TestClusterWebhookSecret(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "cluster", "cluster.sh"))
	require.NoError(t, err)
	sh := string(b)
	fn := regexp.MustCompile(`(?ms)^ensure_webhook_secret\(\) \{\n.*?^\}\n`).FindString(sh)
	require.NotEmpty(t, fn, "cluster.sh defines ensure_webhook_secret")
	workerCase := regexp.MustCompile(`(?ms)^    worker-\*\)\n.*?;;`).FindString(sh)
	require.Contains(t, workerCase, "ensure_webhook_secret", "a worker's start makes the secret")
	require.Contains(t, workerCase, `DOCKET_WEBHOOK_SECRET_FILE="$WEBHOOK_SECRET_FILE"`, "workers read the secret")
	require.Contains(t, sh, `WEBHOOK_SECRET_FILE=$DATA/webhook-secret`)
	require.Contains(t, sh, `echo "DOCKET_CLUSTER_WEBHOOK_SECRET_FILE=$WEBHOOK_SECRET_FILE"`)

	bin := buildDocketAPI(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "cluster", "webhook-secret")
	run := func() string {
		t.Helper()
		cmd := exec.Command("bash", "-ec", `log() { echo "cluster: $*" >&2; }
die() { echo "cluster: $*" >&2; exit 1; }
`+fn+`ensure_webhook_secret`)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "ROOT=" + dir, "BIN=" + filepath.Dir(bin), "WEBHOOK_SECRET_FILE=" + path}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.NotContains(t, string(out), "whsec_", "the secret is not printed")
		return string(out)
	}
	require.Contains(t, run(), "made the webhook signing secret cluster/webhook-secret")
	before := requireSecretFile(t, path)
	require.Empty(t, run(), "a later start says nothing")
	require.Equal(t, before, requireSecretFile(t, path), "and keeps the secret")
}
