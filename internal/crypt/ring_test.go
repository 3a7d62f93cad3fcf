package crypt_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/localsecrets"

	"github.com/docket-dev/docket/internal/crypt"
)

func TestParseRing(t *testing.T) {
	key := randomKey(t)
	key2 := randomKey(t)
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	long := base64.StdEncoding.EncodeToString(make([]byte, 33))
	id64 := strings.Repeat("a", 64)
	tests := []struct {
		name       string
		data       string
		wantErr    string // "" for success
		wantActive string
		wantIDs    []string
	}{
		{"one key", `{"keys":[{"id":"k1","key":"` + key + `"}]}`, "", "k1", []string{"k1"}},
		{"first key is active", `{"keys":[{"id":"k2","key":"` + key2 + `"},{"id":"k1","key":"` + key + `"}]}`, "", "k2", []string{"k2", "k1"}},
		{"id of every allowed character", `{"keys":[{"id":"Az09._-","key":"` + key + `"}]}`, "", "Az09._-", []string{"Az09._-"}},
		{"id of 64 bytes", `{"keys":[{"id":"` + id64 + `","key":"` + key + `"}]}`, "", id64, []string{id64}},
		{"the same key under two ids", `{"keys":[{"id":"a","key":"` + key + `"},{"id":"b","key":"` + key + `"}]}`, "", "a", []string{"a", "b"}},

		{"unknown member of the file", `{"keys":[{"id":"k1","key":"` + key + `"}],"active":"k1"}`, `"active"`, "", nil},
		{"unknown member of a key", `{"keys":[{"id":"k1","key":"` + key + `","note":"x"}]}`, `"note"`, "", nil},
		{"member in another case", `{"Keys":[{"id":"k1","key":"` + key + `"}]}`, `"Keys"`, "", nil},
		{"not JSON", `keys: []`, "decode the key ring", "", nil},
		{"null", `null`, "null", "", nil},
		{"no keys member", `{}`, "has no keys", "", nil},
		{"empty keys", `{"keys":[]}`, "has no keys", "", nil},
		{"empty id", `{"keys":[{"id":"","key":"` + key + `"}]}`, "keys[0]: id: is empty", "", nil},
		{"id of 65 bytes", `{"keys":[{"id":"` + id64 + `b","key":"` + key + `"}]}`, "is 65 bytes, at most 64", "", nil},
		{"id with a slash", `{"keys":[{"id":"k/1","key":"` + key + `"}]}`, `"k/1" has a character`, "", nil},
		{"id with a space", `{"keys":[{"id":"k 1","key":"` + key + `"}]}`, `"k 1" has a character`, "", nil},
		{"duplicate id", `{"keys":[{"id":"k1","key":"` + key + `"},{"id":"k1","key":"` + key2 + `"}]}`, `keys[1]: id "k1" is also the id of an earlier key`, "", nil},
		{"key of 16 bytes", `{"keys":[{"id":"k1","key":"` + short + `"}]}`, `keys[0] ("k1"): key is 16 bytes, want 32`, "", nil},
		{"key of 33 bytes", `{"keys":[{"id":"k1","key":"` + long + `"}]}`, `key is 33 bytes, want 32`, "", nil},
		{"key not base64", `{"keys":[{"id":"k1","key":"not base64!"}]}`, `keys[0] ("k1"): key is not standard base64`, "", nil},
		{"key in URL base64", `{"keys":[{"id":"k1","key":"` + strings.NewReplacer("+", "-", "/", "_").Replace(key) + `x"}]}`, `not standard base64`, "", nil},
		{"neither key nor wrapped", `{"keys":[{"id":"k1"}]}`, `has neither "key" nor "wrapped"`, "", nil},
		{"both key and wrapped", `{"keys":[{"id":"k1","key":"` + key + `","wrapped":"` + key2 + `"}]}`, `has both "key" and "wrapped"`, "", nil},
		{"wrapped not base64", `{"keys":[{"id":"k1","wrapped":"%%%"}]}`, `wrapped is not standard base64`, "", nil},
		{"wrapped without a KMS", `{"keys":[{"id":"k1","wrapped":"` + key2 + `"}]}`, `keys[0] ("k1") is wrapped by a KMS, but no KMS URL`, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := crypt.ParseRing(context.Background(), []byte(tt.data), nil)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Nil(t, r)
				// Whatever is wrong, the error must not quote a key.
				require.NotContains(t, err.Error(), key)
				require.NotContains(t, err.Error(), key2)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantActive, r.Active())
			require.Equal(t, tt.wantIDs, r.KeyIDs())
		})
	}
}

// A ring printed or logged by mistake shows its ids, not its keys.
func TestRingStringHidesKeys(t *testing.T) {
	ks := newKeySet(t, "k2", "k1")
	r := ks.ring(t, "k2", "k1")
	for _, verb := range []string{"%v", "%+v", "%s", "%#v"} {
		out := fmt.Sprintf(verb, r)
		require.Equal(t, "crypt.Ring{active: k2, keys: k2,k1}", out, verb)
	}
	raw, err := base64.StdEncoding.DecodeString(ks["k1"])
	require.NoError(t, err)
	require.NotContains(t, fmt.Sprintf("%v", *r), string(raw))
}

// localKMS is a local keeper and its base64key:// URL, standing in for a
// cloud KMS.
func localKMS(t *testing.T) (*secrets.Keeper, string) {
	t.Helper()
	k, err := localsecrets.NewRandomKey()
	require.NoError(t, err)
	url := "base64key://" + base64.URLEncoding.EncodeToString(k[:])
	keeper, err := secrets.OpenKeeper(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { keeper.Close() })
	return keeper, url
}

// wrap is key (base64) as keeper encrypts it, in base64: a "wrapped" entry.
func wrap(t *testing.T, keeper *secrets.Keeper, key string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(key)
	require.NoError(t, err)
	w, err := keeper.Encrypt(context.Background(), raw)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(w)
}

func writeFile(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.json")
	require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
	return path
}

func TestLoadRing(t *testing.T) {
	ctx := context.Background()
	ks := newKeySet(t, "k2", "k1")
	keeper, kmsURL := localKMS(t)
	_, otherKMSURL := localKMS(t)
	// k2 is wrapped by the KMS, k1 is plain: a ring mid-way to the KMS.
	mixed := `{"keys":[{"id":"k2","wrapped":"` + wrap(t, keeper, ks["k2"]) + `"},{"id":"k1","key":"` + ks["k1"] + `"}]}`
	// What k2 sealed opens with the plain ring of the same keys, so the
	// wrapped key unwrapped to k2's very bytes.
	plainRing := ks.ring(t, "k2", "k1")
	kmsSecret := strings.TrimPrefix(kmsURL, "base64key://")
	wrongKey := base64.StdEncoding.EncodeToString(make([]byte, 16))
	tests := []struct {
		name    string
		data    string
		kmsURL  string
		wantErr string
	}{
		{"plain keys, no KMS", string(ks.file(t, "k2", "k1")), "", ""},
		{"plain keys, a KMS given", string(ks.file(t, "k2", "k1")), kmsURL, ""},
		{"wrapped key unwrapped by the KMS", mixed, kmsURL, ""},
		{"wrapped key, no KMS", mixed, "", "no KMS URL (DOCKET_ENCRYPTION_KMS_URL)"},
		{"wrapped key, another KMS", mixed, otherKMSURL, `keys[0] ("k2"): unwrap with the KMS`},
		{"wrapped key that is not 32 bytes", `{"keys":[{"id":"k2","wrapped":"` + wrap(t, keeper, wrongKey) + `"}]}`, kmsURL, "the KMS unwrapped 16 bytes, want 32"},
		{"KMS scheme without a driver", mixed, "base64keyz://" + kmsSecret, `scheme "base64keyz" has no driver`},
		{"KMS URL without a scheme", mixed, kmsSecret, "not a URL with a scheme"},
		{"KMS URL with a bad local key", mixed, "base64key://" + kmsSecret[:20], "open the base64key keeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.data)
			r, err := crypt.LoadRing(ctx, path, tt.kmsURL)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.ErrorContains(t, err, path)
				// The local keeper's URL is its key: errors must not quote it.
				require.NotContains(t, err.Error(), kmsSecret[:20])
				return
			}
			require.NoError(t, err)
			require.Equal(t, "k2", r.Active())
			sealed, err := r.Seal([]byte("wrapped or not, the same key"))
			require.NoError(t, err)
			plain, _, err := plainRing.Open(sealed)
			require.NoError(t, err)
			require.Equal(t, "wrapped or not, the same key", string(plain))
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := crypt.LoadRing(ctx, filepath.Join(t.TempDir(), "none.json"), "")
		require.ErrorIs(t, err, os.ErrNotExist)
		require.ErrorContains(t, err, "load key ring")
	})
}

func TestGenerateRingFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state", "keys.json")

	created, err := crypt.GenerateRingFile(path)
	require.NoError(t, err)
	require.True(t, created)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	dirInfo, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), dirInfo.Mode().Perm())
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	r, err := crypt.LoadRing(ctx, path, "")
	require.NoError(t, err)
	require.Len(t, r.KeyIDs(), 1)
	require.Regexp(t, `^k-[0-9]{8}-[0-9a-f]{6}$`, r.Active())
	// No temporary file is left beside it.
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1)

	// A second run keeps the first ring: replacing it would make what
	// the first encrypted unreadable.
	created, err = crypt.GenerateRingFile(path)
	require.NoError(t, err)
	require.False(t, created)
	again, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, first, again)

	// Two rings made apart have different keys.
	other := filepath.Join(t.TempDir(), "keys.json")
	_, err = crypt.GenerateRingFile(other)
	require.NoError(t, err)
	r2, err := crypt.LoadRing(ctx, other, "")
	require.NoError(t, err)
	sealed, err := r.Seal([]byte("x"))
	require.NoError(t, err)
	_, _, err = r2.Open(sealed)
	require.Error(t, err)
}

// RandomRing makes a new key each time, under the id asked for.
func TestRandomRing(t *testing.T) {
	a, err := crypt.RandomRing("t1")
	require.NoError(t, err)
	b, err := crypt.RandomRing("t1")
	require.NoError(t, err)
	require.Equal(t, "t1", a.Active())
	sealed, err := a.Seal([]byte("x"))
	require.NoError(t, err)
	_, _, err = b.Open(sealed)
	require.ErrorIs(t, err, crypt.ErrAuthentication, "another random key of the same id does not open it")
}
