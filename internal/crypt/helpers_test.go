package crypt_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/crypt"
)

// keySet is random key material by key id, so that tests can build rings
// that share keys (the same k1 before and after a rotation) or do not (a
// foreign ring's k1).
type keySet map[string]string

// newKeySet makes a random key for each id.
func newKeySet(t *testing.T, ids ...string) keySet {
	t.Helper()
	ks := keySet{}
	for _, id := range ids {
		ks[id] = randomKey(t)
	}
	return ks
}

// randomKey is the base64 of 32 random bytes.
func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, crypt.KeySize)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

// file is a key-ring file holding the keys of ids, in that order: the first
// is the active one.
func (ks keySet) file(t *testing.T, ids ...string) []byte {
	t.Helper()
	type entry struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	var f struct {
		Keys []entry `json:"keys"`
	}
	for _, id := range ids {
		require.Contains(t, ks, id)
		f.Keys = append(f.Keys, entry{id, ks[id]})
	}
	data, err := json.Marshal(f)
	require.NoError(t, err)
	return data
}

// ring is the Ring of file(ids...).
func (ks keySet) ring(t *testing.T, ids ...string) *crypt.Ring {
	t.Helper()
	r, err := crypt.ParseRing(context.Background(), ks.file(t, ids...), nil)
	require.NoError(t, err)
	return r
}
