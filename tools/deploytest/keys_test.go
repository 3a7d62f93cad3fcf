package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/auth"
	"github.com/docket-dev/docket/internal/crypt"
)

// The compose API serves with keys (auth on): its keys file is on the keys
// volume, which the api-keys one-shot fills on first start, and
// DOCKET_AUTH does not turn auth off.
func TestComposeAPIHasKeys(t *testing.T) {
	p := loadCompose(t, nil)
	api, keys := service(t, p, "api"), service(t, p, "api-keys")
	file := env(api, "DOCKET_API_KEYS_FILE")
	require.Equal(t, "/etc/docket/keys/keys.json", file)
	require.Empty(t, env(api, "DOCKET_AUTH"))
	mounted := func(s string, readOnly bool) {
		t.Helper()
		for _, v := range service(t, p, s).Volumes {
			if v.Source == "keys" && v.Target == filepath.Dir(file) {
				require.Equal(t, readOnly, v.ReadOnly, "%s's keys volume read-only", s)
				return
			}
		}
		t.Fatalf("%s does not mount the keys volume at %s", s, filepath.Dir(file))
	}
	mounted("api", true)
	mounted("api-keys", false)
	require.Equal(t, api.Image, keys.Image, "api-keys runs the API's own keys command")
	require.Contains(t, strings.Join(keys.Command, " "), file)
}

// Every Docket service encrypts with the one key ring api-keys makes on
// the keys volume.
func TestComposeEncryptsWithOneRing(t *testing.T) {
	p := loadCompose(t, nil)
	const ring = "/etc/docket/keys/encryption-keys.json"
	require.Contains(t, strings.Join(service(t, p, "api-keys").Command, " "), "keyring new "+ring)
	for _, name := range docketSvcs {
		s := service(t, p, name)
		require.Equal(t, ring, env(s, "DOCKET_ENCRYPTION_KEYS_FILE"), name)
		found := false
		for _, v := range s.Volumes {
			found = found || (v.Source == "keys" && v.Target == filepath.Dir(ring) && v.ReadOnly)
		}
		require.True(t, found, "%s mounts the keys volume read-only", name)
		require.Contains(t, s.DependsOn, "api-keys", name)
	}
}

// The api-keys script, run natively with the real docket-api binary in
// place of the image's: on first start it makes a key whose secret it
// prints once and whose hash it writes; on a later start it changes
// nothing; given DOCKET_API_KEY it writes that key's hash instead.
func TestComposeAPIKeysScript(t *testing.T) {
	p := loadCompose(t, nil)
	script := strings.Join(service(t, p, "api-keys").Command, "\n")
	bin := filepath.Join(t.TempDir(), "docket-api")
	build := exec.Command("go", "build", "-o", bin, "./api/cmd/docket-api")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	run := func(t *testing.T, dir string, env ...string) string {
		t.Helper()
		s := strings.ReplaceAll(strings.ReplaceAll(script, "/usr/local/bin/docket-api", bin), "/etc/docket/keys", dir)
		cmd := exec.Command("/bin/sh", "-ec", s)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		out, err := cmd.Output()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	read := func(t *testing.T, dir string) []auth.Key {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "keys.json"))
		require.NoError(t, err)
		keys, err := auth.Parse(b)
		require.NoError(t, err)
		require.Len(t, keys, 1)
		require.Equal(t, "default", keys[0].Tenant)
		return keys
	}

	t.Run("made", func(t *testing.T) {
		dir := t.TempDir()
		out := run(t, dir, "DOCKET_API_KEY=")
		var secret string
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, auth.SecretPrefix) {
				secret = line
			}
		}
		require.NotEmpty(t, secret, "the secret is printed: %s", out)
		keys := read(t, dir)
		require.Equal(t, auth.HashSecret(secret), keys[0].SHA256)
		ring, err := crypt.LoadRing(t.Context(), filepath.Join(dir, "encryption-keys.json"), "")
		require.NoError(t, err, "the one-shot makes the encryption key ring too")
		require.NotEmpty(t, ring.Active())
		before, err := os.ReadFile(filepath.Join(dir, "keys.json"))
		require.NoError(t, err)
		again := run(t, dir, "DOCKET_API_KEY=")
		require.NotContains(t, again, auth.SecretPrefix, "a later start prints no secret")
		after, err := os.ReadFile(filepath.Join(dir, "keys.json"))
		require.NoError(t, err)
		require.Equal(t, before, after)
	})
	t.Run("given", func(t *testing.T) {
		dir := t.TempDir()
		secret, err := auth.NewSecret()
		require.NoError(t, err)
		out := run(t, dir, "DOCKET_API_KEY="+secret)
		require.NotContains(t, out, secret, "a given key is not echoed")
		require.Equal(t, auth.HashSecret(secret), read(t, dir)[0].SHA256)
	})
}

// make cluster's Web UI decodes through api-1's codec-only listener: the
// UI's config names the port cluster.sh gives that listener.
func TestClusterUIDecodesThroughTheCodecListener(t *testing.T) {
	ui, err := os.ReadFile(filepath.Join(root, "cluster", "config", "ui.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(ui), `endpoint: "http://127.0.0.1:{{ env "DOCKET_CLUSTER_CODEC_PORT" | default "18090" }}/codec"`)
	sh, err := os.ReadFile(filepath.Join(root, "cluster", "cluster.sh"))
	require.NoError(t, err)
	require.Contains(t, string(sh), `DOCKET_CLUSTER_CODEC_PORT=${DOCKET_CLUSTER_CODEC_PORT:-18090}`)
	require.Contains(t, string(sh), `DOCKET_CODEC_ADDR="127.0.0.1:$DOCKET_CLUSTER_CODEC_PORT"`)
}
