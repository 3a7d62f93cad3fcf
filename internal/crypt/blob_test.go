package crypt_test

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/crypt"
)

func TestSealOpen(t *testing.T) {
	r := newKeySet(t, "k1").ring(t, "k1")
	big := make([]byte, 3<<20)
	_, err := rand.Read(big)
	require.NoError(t, err)
	tests := []struct {
		name      string
		plaintext []byte
	}{
		{"empty", []byte{}},
		{"text", []byte("page 1: Ada Lovelace, 123-45-6789")},
		{"starts like an envelope", []byte("DKTE1 is our magic, and this is plain")},
		{"3 MiB", big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := r.Seal(tt.plaintext)
			require.NoError(t, err)
			// Header: magic, id length, id, wrapped key (60), body
			// nonce (12); then the body and its tag (16).
			require.Equal(t, "DKTE1\x02k1", string(sealed[:8]))
			require.Len(t, sealed, len(tt.plaintext)+94+len("k1"))
			require.True(t, crypt.IsSealed(sealed))
			if len(tt.plaintext) > 8 {
				require.False(t, bytes.Contains(sealed, tt.plaintext[8:]), "plaintext in the envelope")
			}
			// A fresh data key and nonces: the same object seals apart.
			again, err := r.Seal(tt.plaintext)
			require.NoError(t, err)
			require.NotEqual(t, sealed[8:], again[8:])

			plain, encrypted, err := r.Open(sealed)
			require.NoError(t, err)
			require.True(t, encrypted)
			require.Equal(t, tt.plaintext, plain)
		})
	}
}

// Objects stored before encryption was turned on open as they are.
func TestOpenPlainPassthrough(t *testing.T) {
	r := newKeySet(t, "k1").ring(t, "k1")
	tests := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"pdf", []byte("%PDF-1.7\n...")},
		{"json", []byte(`{"entities":[]}`)},
		{"the magic's prefix alone", []byte("DKTE")},
		{"the prefix and no digit", []byte("DKTEx and more")},
		{"lower case", []byte("dkte1 notes")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain, encrypted, err := r.Open(tt.data)
			require.NoError(t, err)
			require.False(t, encrypted)
			require.Equal(t, tt.data, plain)
			require.False(t, crypt.IsSealed(tt.data))
		})
	}
}

// Rotation: sealed under k1, it opens after k2 became active while k1 stays
// in the ring; new objects are k2's; without k1 the error names k1.
func TestSealRotation(t *testing.T) {
	ks := newKeySet(t, "k1", "k2")
	before := ks.ring(t, "k1")
	after := ks.ring(t, "k2", "k1")
	retired := ks.ring(t, "k2")
	doc := []byte("contract text")

	old, err := before.Seal(doc)
	require.NoError(t, err)
	plain, encrypted, err := after.Open(old)
	require.NoError(t, err)
	require.True(t, encrypted)
	require.Equal(t, doc, plain)

	fresh, err := after.Seal(doc)
	require.NoError(t, err)
	require.Equal(t, "DKTE1\x02k2", string(fresh[:8]))
	plain, _, err = retired.Open(fresh)
	require.NoError(t, err)
	require.Equal(t, doc, plain)

	_, encrypted, err = retired.Open(old)
	require.ErrorIs(t, err, crypt.ErrKeyNotFound)
	require.EqualError(t, err, `open sealed object: key "k1": encryption key is not in the key ring (it has k2)`)
	require.True(t, encrypted)
}

func TestOpenErrors(t *testing.T) {
	ks := newKeySet(t, "k1", "k2")
	ks["k3"] = ks["k1"] // one key under two ids
	r := ks.ring(t, "k1", "k2", "k3")
	doc := []byte("entity list: Ada Lovelace")
	sealed, err := r.Seal(doc)
	require.NoError(t, err)
	foreign, err := newKeySet(t, "k1").ring(t, "k1").Seal(doc)
	require.NoError(t, err)
	relabelled := bytes.Clone(sealed)
	relabelled[7] = '2' // k1 -> k2, a key the ring has
	aliased := bytes.Clone(sealed)
	aliased[7] = '3' // k1 -> k3, the same key under another id

	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"another ring's key of the same id", foreign, `open sealed object under key "k1": unwrap its data key: message authentication failed`},
		{"relabelled key id", relabelled, `open sealed object under key "k2": unwrap its data key: message authentication failed`},
		// The id is the wrapped key's additional data: relabelling fails
		// even where the other id's key is the same key.
		{"relabelled to an alias of the key", aliased, `open sealed object under key "k3": unwrap its data key: message authentication failed`},
		{"unsupported version", append([]byte("DKTE2"), sealed[5:]...), `envelope version "DKTE2" is not one this build reads (it reads "DKTE1")`},
		{"magic only", []byte("DKTE1"), "message authentication failed: the envelope is truncated (5 bytes)"},
		{"header cut short", sealed[:40], "the envelope is truncated (40 bytes)"},
		{"tag cut off", sealed[:len(sealed)-16], `open sealed object under key "k1": message authentication failed: it was altered or truncated`},
		{"last byte cut off", sealed[:len(sealed)-1], `under key "k1": message authentication failed`},
		{"a byte appended", append(bytes.Clone(sealed), 0), `under key "k1": message authentication failed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain, encrypted, err := r.Open(tt.data)
			require.ErrorContains(t, err, tt.wantErr)
			require.True(t, encrypted)
			require.Nil(t, plain)
		})
	}

	// Every byte after the magic is authenticated: flipping any one of
	// them fails the open (the id's length or bytes name a missing key or
	// another key, either way an error), never yields other plaintext.
	for i := 5; i < len(sealed); i++ {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x01
		plain, encrypted, err := r.Open(tampered)
		require.Error(t, err, "byte %d", i)
		require.True(t, encrypted, "byte %d", i)
		require.Nil(t, plain, "byte %d", i)
		if i > 7 {
			require.ErrorIs(t, err, crypt.ErrAuthentication, "byte %d", i)
		}
	}
}
