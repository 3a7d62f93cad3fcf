package crypt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/crypt"
)

// run runs the keyring command and returns its exit code and output.
func run(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := crypt.KeyringCommand(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// fileKeys is the key-ring file's entries as JSON members, to check what
// the command wrote and that it never printed them.
func fileKeys(t *testing.T, path string) []map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var f struct {
		Keys []map[string]string `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(data, &f))
	return f.Keys
}

// requireNoKeyMaterial fails if out quotes any key of the file at path.
func requireNoKeyMaterial(t *testing.T, path, out string) {
	t.Helper()
	for _, k := range fileKeys(t, path) {
		for member, v := range k {
			if member != "id" {
				require.NotContains(t, out, v)
			}
		}
	}
}

func TestKeyringCommandNewAndAdd(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys.json")

	code, stdout, stderr := run("new", path)
	require.Equal(t, 0, code, stderr)
	r1, err := crypt.LoadRing(ctx, path, "")
	require.NoError(t, err)
	require.Equal(t, "created key ring "+path+" with key "+r1.Active()+"\n", stdout)
	requireNoKeyMaterial(t, path, stdout+stderr)
	sealed, err := r1.Seal([]byte("before rotation"))
	require.NoError(t, err)

	code, stdout, stderr = run("new", path)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "key ring "+path+" exists: left as it is\n", stdout)
	r, err := crypt.LoadRing(ctx, path, "")
	require.NoError(t, err)
	require.Equal(t, r1.KeyIDs(), r.KeyIDs())

	require.NoError(t, os.Chmod(path, 0o640))
	code, stdout, stderr = run("add", path)
	require.Equal(t, 0, code, stderr)
	added, err := crypt.LoadRing(ctx, path, "")
	require.NoError(t, err)
	require.Len(t, added.KeyIDs(), 2)
	// Added last: the old key still encrypts until the new one is
	// activated, so that no process meets a key it has not loaded.
	require.Equal(t, r1.Active(), added.Active())
	newID := added.KeyIDs()[1]
	require.Equal(t, "added key "+newID+" to "+path+" (decrypts only): restart every process, then run keyring activate "+path+" "+newID+"\n", stdout)
	requireNoKeyMaterial(t, path, stdout+stderr)

	code, stdout, stderr = run("activate", path, newID)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "key "+newID+" of "+path+" encrypts from each process's next start\n", stdout)
	r2, err := crypt.LoadRing(ctx, path, "")
	require.NoError(t, err)
	require.Equal(t, []string{newID, r1.Active()}, r2.KeyIDs())
	code, _, stderr = run("activate", path, "no-such-key")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `"no-such-key"`)
	// The file keeps its mode, and what the old key sealed still opens.
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), info.Mode().Perm())
	plain, _, err := r2.Open(sealed)
	require.NoError(t, err)
	require.Equal(t, "before rotation", string(plain))
	fresh, err := r2.Seal([]byte("after"))
	require.NoError(t, err)
	_, _, err = r1.Open(fresh)
	require.ErrorContains(t, err, r2.Active())
}

// A symlinked key ring (a mounted secret's) is rewritten where it points.
func TestKeyringCommandAddThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.json")
	link := filepath.Join(dir, "keys.json")
	code, _, stderr := run("new", target)
	require.Equal(t, 0, code, stderr)
	require.NoError(t, os.Symlink(target, link))

	code, _, stderr = run("add", link)
	require.Equal(t, 0, code, stderr)
	dest, err := os.Readlink(link)
	require.NoError(t, err)
	require.Equal(t, target, dest)
	require.Len(t, fileKeys(t, target), 2)
}

func TestKeyringCommandKMS(t *testing.T) {
	ctx := context.Background()
	_, kmsURL := localKMS(t)
	path := filepath.Join(t.TempDir(), "keys.json")

	code, _, stderr := run("new", "-kms", kmsURL, path)
	require.Equal(t, 0, code, stderr)
	keys := fileKeys(t, path)
	require.Len(t, keys, 1)
	require.NotEmpty(t, keys[0]["wrapped"])
	require.NotContains(t, keys[0], "key")
	_, err := crypt.LoadRing(ctx, path, "")
	require.ErrorContains(t, err, "no KMS URL")

	// Rotating a wrapped ring without the KMS would add a plain key.
	code, _, stderr = run("add", path)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "is wrapped by a KMS: give the KMS URL")
	require.Len(t, fileKeys(t, path), 1)

	code, _, stderr = run("add", "-kms", kmsURL, path)
	require.Equal(t, 0, code, stderr)
	keys = fileKeys(t, path)
	require.Len(t, keys, 2)
	require.NotEmpty(t, keys[0]["wrapped"])
	r, err := crypt.LoadRing(ctx, path, kmsURL)
	require.NoError(t, err)
	require.Equal(t, keys[0]["id"], r.Active())
	require.Equal(t, []string{keys[0]["id"], keys[1]["id"]}, r.KeyIDs())
}

func TestKeyringCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"keys":[{"id":"k1","key":"short"}]}`), 0o600))
	missing := filepath.Join(dir, "none.json")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no command", nil, 2, "usage: keyring new"},
		{"unknown command", []string{"rotate", missing}, 2, `unknown command "rotate"`},
		{"no path", []string{"new"}, 2, "want one PATH, got 0 arguments"},
		{"two paths", []string{"add", bad, missing}, 2, "want one PATH, got 2 arguments"},
		{"unknown flag", []string{"new", "-x", missing}, 2, "flag provided but not defined: -x"},
		{"add to a missing file", []string{"add", missing}, 1, "no such file or directory"},
		{"add to a bad ring", []string{"add", bad}, 2, `keys[0] ("k1"): key is not standard base64`},
		{"KMS without a driver", []string{"new", "-kms", "nokms://secret-part", missing}, 1, `scheme "nokms" has no driver`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(tt.args...)
			require.Equal(t, tt.wantCode, code, stderr)
			require.Contains(t, stderr, tt.wantStderr)
			require.NotContains(t, stderr, "secret-part")
			_, err := os.Stat(missing)
			require.ErrorIs(t, err, os.ErrNotExist, "an error left a file behind")
		})
	}

	code, stdout, _ := run("help")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "usage: keyring new")
}
