package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/api"
)

// TestTypeScriptClientCompiles generates a TypeScript client from the
// served document with openapi-typescript, a third-party generator that
// reads discriminated oneOfs, and compiles api/testdata/tsclient/main.ts,
// which creates a sum job and reads a document job's result, under
// --strict. bad.ts must not compile: a test that passed with types that
// accept anything (any, Record<string, never> bodies) proves nothing.
// The npm packages are pinned by the committed package-lock.json.
func TestTypeScriptClientCompiles(t *testing.T) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not on PATH; scripts/deps.sh (make deps) installs it", tool)
			}
			t.Skipf("%s is not on PATH; run scripts/deps.sh (make deps) to run this test", tool)
		}
	}
	src, err := filepath.Abs("testdata/tsclient")
	require.NoError(t, err)
	modules := tsclientModules(t, src)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "spec.json"), api.Spec(), 0o644))
	for _, name := range []string{"main.ts", "bad.ts"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	// The binaries are run from the cached node_modules rather than with
	// npx, which would quietly fetch whatever version when they are missing.
	bin := func(name string) string { return filepath.Join(modules, "node_modules", ".bin", name) }
	out, err := tsRun(t, dir, bin("openapi-typescript"), "spec.json", "-o", "schema.d.ts")
	require.NoError(t, err, "openapi-typescript: %s", out)

	tsc := []string{"--strict", "--noEmit", "--target", "es2022"}
	for _, tc := range []struct {
		file    string
		compile bool
		// want is in tsc's output when the file must not compile, so that
		// it fails for the typed reason, not a missing module.
		want string
	}{
		{"main.ts", true, ""},
		{"bad.ts", false, "bad.ts(8,54): error TS2322: Type 'string' is not assignable to type 'number'."},
	} {
		t.Run(tc.file, func(t *testing.T) {
			out, err := tsRun(t, dir, bin("tsc"), append(tsc, tc.file)...)
			if tc.compile {
				require.NoError(t, err, "tsc %s: %s", tc.file, out)
				return
			}
			require.Error(t, err, "tsc compiled %s, which must not compile", tc.file)
			require.Contains(t, out, tc.want)
		})
	}
}

func tsRun(t *testing.T, dir, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// tsclientModules installs the npm project in src (npm ci, from its lock
// file) into a cache under the repository's .tools/ keyed by the lock
// file's hash, and returns its directory. Installed once, it costs nothing
// on later runs; a changed lock file installs afresh.
func tsclientModules(t *testing.T, src string) string {
	t.Helper()
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	require.NoError(t, err)
	pkg, err := os.ReadFile(filepath.Join(src, "package.json"))
	require.NoError(t, err)
	sum := sha256.Sum256(append(append([]byte{}, pkg...), lock...))
	root, err := filepath.Abs(filepath.Join("..", ".tools", "tsclient"))
	require.NoError(t, err)
	dir := filepath.Join(root, hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".bin", "tsc")); err == nil {
		return dir
	}
	require.NoError(t, os.MkdirAll(root, 0o755))
	// Install beside the cache entry and rename it into place, so that a
	// run cut short, or two runs at once, never leave a half-installed one.
	stage, err := os.MkdirTemp(root, "install-")
	require.NoError(t, err)
	defer os.RemoveAll(stage)
	require.NoError(t, os.WriteFile(filepath.Join(stage, "package.json"), pkg, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(stage, "package-lock.json"), lock, 0o644))
	out, err := tsRun(t, stage, "npm", "ci", "--no-audit", "--no-fund", "--prefer-offline")
	require.NoError(t, err, "npm ci: %s", out)
	if err := os.Rename(stage, dir); err != nil {
		_, statErr := os.Stat(filepath.Join(dir, "node_modules", ".bin", "tsc"))
		require.NoError(t, statErr, "install into %s: %v", dir, err)
	}
	return dir
}
