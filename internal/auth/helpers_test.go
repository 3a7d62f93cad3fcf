package auth_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/auth"
)

// syncBuffer collects a logger's output; the poller writes to it from its
// own goroutine while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// fastReload makes the Keyrings the test opens poll every 10 ms. Tests
// that use it do not run in parallel, as ReloadInterval is a package var.
func fastReload(t *testing.T) {
	old := auth.ReloadInterval
	auth.ReloadInterval = 10 * time.Millisecond
	t.Cleanup(func() { auth.ReloadInterval = old })
}

// keysFile encodes keys as a keys file.
func keysFile(t *testing.T, keys ...map[string]any) []byte {
	if keys == nil {
		keys = []map[string]any{}
	}
	data, err := json.Marshal(map[string]any{"keys": keys})
	require.NoError(t, err)
	return data
}

// replaceFile writes data to path the way editors and `keys new` do: a new
// file renamed over the old one (a new inode).
func replaceFile(t *testing.T, path string, data []byte) {
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	require.NoError(t, os.WriteFile(tmp, data, 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

// openKeyring writes keys to a new file and opens it, polling fast.
func openKeyring(t *testing.T, keys ...map[string]any) (string, *auth.Keyring, *syncBuffer) {
	fastReload(t)
	path := filepath.Join(t.TempDir(), "keys.json")
	require.NoError(t, os.WriteFile(path, keysFile(t, keys...), 0o600))
	log, buf := testLogger()
	k, err := auth.Open(path, log)
	require.NoError(t, err)
	t.Cleanup(k.Close)
	return path, k, buf
}

// authenticates says whether secret authenticates now.
func authenticates(k *auth.Keyring, secret string) bool {
	_, err := k.Authenticate("Bearer "+secret, time.Now())
	return err == nil
}
