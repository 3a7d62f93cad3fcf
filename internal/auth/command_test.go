package auth_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/auth"
	"github.com/docket-dev/docket/job"
)

// keysNew runs `docket-api keys new args...`, returning the exit code, the
// secret (stdout's first line), the entry (the rest of stdout) and stderr.
func keysNew(t *testing.T, args ...string) (code int, secret string, entry auth.Key, stderr string) {
	var out, errOut bytes.Buffer
	code = auth.KeysCommand(append([]string{"new"}, args...), &out, &errOut)
	if code != 0 {
		require.Empty(t, out.String(), "a failed command prints no secret")
		return code, "", auth.Key{}, errOut.String()
	}
	secret, rest, ok := strings.Cut(out.String(), "\n")
	require.True(t, ok, "stdout: %q", out.String())
	require.NoError(t, job.DecodeStrict([]byte(rest), &entry), "the entry: %s", rest)
	return code, secret, entry, errOut.String()
}

func TestKeysNew(t *testing.T) {
	before := time.Now()
	code, secret, entry, stderr := keysNew(t, "--tenant", "acme", "--scopes", "jobs:read, jobs:write",
		"--expires", "720h", "--max-open-jobs", "10", "--rps", "2.5", "--max-priority", "3")
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `^dk_[A-Za-z0-9_-]{43}$`, secret)
	require.Equal(t, auth.HashSecret(secret), entry.SHA256, "the entry holds the secret's hash")
	require.Contains(t, stderr, "cannot be shown again")

	require.Regexp(t, regexp.MustCompile(`^acme-[0-9a-f]{6}$`), entry.ID)
	require.Equal(t, "acme", entry.Tenant)
	require.Equal(t, []auth.Scope{auth.ScopeJobsRead, auth.ScopeJobsWrite}, entry.Scopes)
	require.Equal(t, 10, entry.MaxOpenJobs)
	require.InDelta(t, 2.5, entry.RequestsPerSecond, 0)
	require.NotNil(t, entry.MaxPriority)
	require.Equal(t, 3, *entry.MaxPriority)
	require.WithinRange(t, entry.ExpiresAt, before.Add(720*time.Hour).Truncate(time.Second), time.Now().Add(720*time.Hour))

	code, secret2, entry2, stderr := keysNew(t, "--id", "ops", "--scopes", "admin", "--expires", "2099-01-01T00:00:00Z")
	require.Equal(t, 0, code, stderr)
	require.NotEqual(t, secret, secret2)
	require.Equal(t, "ops", entry2.ID)
	require.Empty(t, entry2.Tenant, "an admin key needs no tenant")
	require.Nil(t, entry2.MaxPriority, "no --max-priority: any priority")
	require.Equal(t, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), entry2.ExpiresAt)

	code, _, entry3, stderr := keysNew(t, "--scopes", "admin")
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `^admin-[0-9a-f]{6}$`, entry3.ID)
}

func TestKeysNewRejects(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.json")
	require.NoError(t, os.WriteFile(broken, []byte(`{"keys": [{"id": "x"}]}`), 0o600))
	taken := filepath.Join(dir, "taken.json")
	require.NoError(t, os.WriteFile(taken, keysFile(t, baseKey("acme-1", acmeSecret)), 0o600))
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no scopes", []string{"--tenant", "acme"}, "--scopes: at least one of"},
		{"unknown scope", []string{"--tenant", "acme", "--scopes", "jobs:read,jobs:delete"}, `--scopes: unknown scope "jobs:delete"`},
		{"no tenant", []string{"--scopes", "jobs:read"}, "--tenant: required"},
		{"bad tenant", []string{"--tenant", "ACME", "--scopes", "jobs:read"}, `--tenant: "ACME"`},
		{"max priority 0", []string{"--tenant", "acme", "--scopes", "jobs:read", "--max-priority", "0"}, "--max-priority: 0"},
		{"max priority 6", []string{"--tenant", "acme", "--scopes", "jobs:read", "--max-priority", "6"}, "--max-priority: 6"},
		{"negative rps", []string{"--tenant", "acme", "--scopes", "jobs:read", "--rps", "-1"}, "--rps: -1"},
		{"negative max open jobs", []string{"--tenant", "acme", "--scopes", "jobs:read", "--max-open-jobs", "-1"}, "--max-open-jobs: -1"},
		{"expiry garbage", []string{"--tenant", "acme", "--scopes", "jobs:read", "--expires", "soon"}, "--expires: \"soon\" is neither"},
		{"expiry in the past", []string{"--tenant", "acme", "--scopes", "jobs:read", "--expires", "2020-01-01T00:00:00Z"}, "--expires: 2020-01-01T00:00:00Z is not in the future"},
		{"negative duration", []string{"--tenant", "acme", "--scopes", "jobs:read", "--expires", "-1h"}, "is not in the future"},
		{"unknown flag", []string{"--tenant", "acme", "--scopes", "jobs:read", "--scope", "x"}, "flag provided but not defined: -scope"},
		{"stray argument", []string{"--tenant", "acme", "--scopes", "jobs:read", "extra"}, `unexpected argument "extra"`},
		{"broken file", []string{"--tenant", "acme", "--scopes", "jobs:read", "--file", broken}, `broken.json: keys file: keys[0] (id "x")`},
		{"id taken", []string{"--tenant", "acme", "--scopes", "jobs:read", "--id", "acme-1", "--file", taken}, `keys[1] (id "acme-1"): id: already used by keys[0]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var brokenBefore, takenBefore []byte
			brokenBefore, _ = os.ReadFile(broken)
			takenBefore, _ = os.ReadFile(taken)
			code, _, _, stderr := keysNew(t, tc.args...)
			require.Equal(t, 2, code)
			require.Contains(t, stderr, tc.wantErr)
			brokenAfter, _ := os.ReadFile(broken)
			takenAfter, _ := os.ReadFile(taken)
			require.Equal(t, brokenBefore, brokenAfter, "a refused command leaves the file alone")
			require.Equal(t, takenBefore, takenAfter, "a refused command leaves the file alone")
		})
	}
}

func TestKeysCommandUsage(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{nil, 2, "usage: docket-api keys new"},
		{[]string{"rotate"}, 2, `unknown command "rotate"`},
		{[]string{"help"}, 0, "usage: docket-api keys new"},
		{[]string{"new", "-h"}, 0, "-max-priority"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			require.Equal(t, tc.wantCode, auth.KeysCommand(tc.args, &out, &errOut))
			require.Contains(t, out.String()+errOut.String(), tc.wantOut)
		})
	}
}

func TestKeysNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")

	code, first, _, stderr := keysNew(t, "--tenant", "acme", "--scopes", "jobs:read", "--file", path)
	require.Equal(t, 0, code, stderr)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "a new keys file is the owner's only")

	code, second, entry, stderr := keysNew(t, "--tenant", "beta", "--scopes", "documents:read,documents:write", "--rps", "3", "--file", path)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "Added this entry to "+path)

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	keys, err := auth.Parse(data)
	require.NoError(t, err, "the file still parses")
	require.Len(t, keys, 2)
	require.Equal(t, auth.HashSecret(first), keys[0].SHA256, "the first key is kept")
	require.Equal(t, entry, keys[1], "the printed entry is the one added")
	require.Equal(t, auth.HashSecret(second), keys[1].SHA256)

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left behind")

	require.NoError(t, os.Chmod(path, 0o640))
	code, _, _, stderr = keysNew(t, "--tenant", "gamma", "--scopes", "jobs:read", "--file", path)
	require.Equal(t, 0, code, stderr)
	info, err = os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), info.Mode().Perm(), "an existing file keeps its mode")
}

// A symlinked keys file (a config map's) is updated where it points.
func TestKeysNewFileThroughASymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.json")
	require.NoError(t, os.WriteFile(real, keysFile(t), 0o600))
	link := filepath.Join(dir, "keys.json")
	require.NoError(t, os.Symlink(real, link))

	code, secret, _, stderr := keysNew(t, "--tenant", "acme", "--scopes", "jobs:read", "--file", link)
	require.Equal(t, 0, code, stderr)
	target, err := os.Readlink(link)
	require.NoError(t, err, "the link is still a link")
	require.Equal(t, real, target)
	data, err := os.ReadFile(real)
	require.NoError(t, err)
	keys, err := auth.Parse(data)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Equal(t, auth.HashSecret(secret), keys[0].SHA256)
}

// A running API takes a key the command added without a restart.
func TestKeysNewReachesARunningKeyring(t *testing.T) {
	path, k, _ := openKeyring(t, baseKey("acme", acmeSecret))

	code, secret, _, stderr := keysNew(t, "--tenant", "beta", "--scopes", "jobs:read,jobs:write", "--file", path)
	require.Equal(t, 0, code, stderr)
	require.Eventually(t, func() bool { return authenticates(k, secret) }, 5*time.Second, 10*time.Millisecond)
	p, err := k.Authenticate("Bearer "+secret, time.Now())
	require.NoError(t, err)
	require.Equal(t, "beta", p.Tenant)
	require.True(t, p.Has(auth.ScopeJobsWrite))
	require.True(t, authenticates(k, acmeSecret), "the keys already there stay")
}
