package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Stream tokens let a browser's EventSource, which cannot send an
// Authorization header, open one job's event stream: a token names the key
// that minted it, the job and an expiry, and is sealed with HMAC-SHA-256
// keyed by that key's stored hash. No new secret is needed and every API
// replica that has the keys file verifies it; removing (or expiring) the
// key revokes its tokens. The hash is what the keys file holds, so whoever
// reads the file can mint tokens: they open event streams only (read-only,
// one job, short-lived), and the file is the operator's secret anyway.

// StreamTokenPrefix starts every stream token, so that it cannot be taken
// for a key (SecretPrefix).
const StreamTokenPrefix = "dst1."

// streamTokenContext separates these MACs from any other use of the hash.
const streamTokenContext = "docket stream token v1\x00"

// streamClaims is what a stream token says.
type streamClaims struct {
	Key     string `json:"k"`
	Job     string `json:"j"`
	Expires int64  `json:"e"`
}

// MintStreamToken returns a token that opens job's event stream as p until
// expires.
func (k *Keyring) MintStreamToken(p *Principal, job string, expires time.Time) (string, error) {
	e := k.entryOf(p.KeyID)
	if e == nil {
		return "", &Error{Reason: ReasonUnknown, Message: msgUnknown}
	}
	claims, err := json.Marshal(streamClaims{Key: p.KeyID, Job: job, Expires: expires.Unix()})
	if err != nil {
		return "", fmt.Errorf("encode stream token: %w", err)
	}
	body := base64.RawURLEncoding.EncodeToString(claims)
	return StreamTokenPrefix + body + "." + base64.RawURLEncoding.EncodeToString(streamMAC(e.hash, body)), nil
}

// VerifyStreamToken returns the principal of a stream token for job's
// stream, if the token is genuine, names job, has not expired and its key
// is still in the file and unexpired. Failures are *Error.
func (k *Keyring) VerifyStreamToken(token, job string, now time.Time) (*Principal, error) {
	bad := &Error{Reason: ReasonMalformed, Message: "the stream token is not valid: mint one with POST /jobs/{id}/events/token"}
	if strings.HasPrefix(token, SecretPrefix) {
		return nil, &Error{Reason: ReasonMalformed, Message: "API keys are never accepted in the query string: mint a stream token with POST /jobs/{id}/events/token and pass that"}
	}
	rest, ok := strings.CutPrefix(token, StreamTokenPrefix)
	if !ok {
		return nil, bad
	}
	body, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, bad
	}
	raw, err1 := base64.RawURLEncoding.DecodeString(body)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	var c streamClaims
	if err1 != nil || err2 != nil || json.Unmarshal(raw, &c) != nil {
		return nil, bad
	}
	e := k.entryOf(c.Key)
	if e == nil || !hmac.Equal(mac, streamMAC(e.hash, body)) {
		return nil, &Error{Reason: ReasonUnknown, Message: "the stream token is not valid, or its key was revoked: mint a new one"}
	}
	if c.Job != job {
		return nil, &Error{Reason: ReasonUnknown, Message: "the stream token is for another job", KeyID: c.Key}
	}
	if !now.Before(time.Unix(c.Expires, 0)) {
		return nil, &Error{Reason: ReasonExpired, Message: "the stream token has expired: mint a new one", KeyID: c.Key}
	}
	if exp := e.key.ExpiresAt; !exp.IsZero() && !now.Before(exp) {
		return nil, &Error{Reason: ReasonExpired, Message: "the key that minted the stream token has expired", KeyID: c.Key}
	}
	return e.principal(), nil
}

// entryOf is the key with id, or nil.
func (k *Keyring) entryOf(id string) *entry {
	for _, e := range *k.keys.Load() {
		if e.key.ID == id {
			return e
		}
	}
	return nil
}

func streamMAC(hash []byte, body string) []byte {
	m := hmac.New(sha256.New, hash)
	m.Write([]byte(streamTokenContext))
	m.Write([]byte(body))
	return m.Sum(nil)
}
