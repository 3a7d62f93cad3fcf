// Package pagetoken wraps the opaque page tokens of Temporal visibility and
// of the blob store before the API hands them to clients, and checks them
// when they come back. GET /jobs and GET /documents share it, so that a
// garbled or foreign token is a 400 on both instead of an error deep in a
// dependency (Temporal) or a silently restarted listing (the blob store).
package pagetoken

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
)

// MaxLen bounds a sealed token a client may send back. Longer ones are
// refused before any decoding work.
const MaxLen = 4096

// A token is the checksum followed by the underlying token, base64url.
// The checksum covers the scope too: a token is only good for the listing
// (the same query, the same filters) it continues.
const sumLen = 8

func sum(scope string, token []byte) []byte {
	h := sha256.New()
	h.Write([]byte(scope))
	h.Write([]byte{0})
	h.Write(token)
	return h.Sum(nil)[:sumLen]
}

// Seal wraps token for clients; an empty token (the last page) stays "".
func Seal(scope string, token []byte) string {
	if len(token) == 0 {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(append(sum(scope, token), token...))
}

// Open returns the token that Seal wrapped with the same scope, or false
// when s is not such a token.
func Open(scope, s string) ([]byte, bool) {
	if len(s) > MaxLen {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) <= sumLen {
		return nil, false
	}
	got, token := b[:sumLen], b[sumLen:]
	return token, bytes.Equal(got, sum(scope, token))
}
