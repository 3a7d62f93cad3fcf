// Package webhook signs Docket's webhook deliveries the Standard Webhooks
// way (https://www.standardwebhooks.com) and keeps the endpoints tenants
// register, with their signing secrets, in the blob store.
//
// A delivery carries three headers: webhook-id (the message id, the same on
// every retry of one delivery), webhook-timestamp (Unix seconds of the
// attempt) and webhook-signature, "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>", one such entry per secret that signs (two while a
// rotated secret overlaps its successor), separated by spaces. Secrets are
// "whsec_" and the base64 of their bytes.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery, as the Standard Webhooks spec names them.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// secretPrefix starts every secret's text form.
const secretPrefix = "whsec_"

// secretBytes is the size of a secret Docket makes (the spec asks for 24
// to 64 bytes).
const secretBytes = 32

// Secret is a signing key. Its text form (String) is what a receiver is
// given; it never appears in logs or in workflow history.
type Secret struct{ key []byte }

// ErrBadSecret: a secret's text is not "whsec_" and base64 of 24 to 64 bytes.
var ErrBadSecret = errors.New("a webhook secret is whsec_ and the base64 of 24 to 64 bytes")

// NewSecret makes a random secret.
func NewSecret() (Secret, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return Secret{}, fmt.Errorf("make a webhook secret: %w", err)
	}
	return Secret{key: b}, nil
}

// ParseSecret reads a secret's text form.
func ParseSecret(s string) (Secret, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), secretPrefix)
	if !ok {
		return Secret{}, ErrBadSecret
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(b) < 24 || len(b) > 64 {
		return Secret{}, ErrBadSecret
	}
	return Secret{key: b}, nil
}

// Text is the secret's text form, whsec_<base64>: what a receiver is
// given, once.
func (s Secret) Text() string {
	if s.Zero() {
		return ""
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(s.key)
}

// String keeps the secret out of logs and %v: it says only that there is one.
func (s Secret) String() string {
	if s.Zero() {
		return ""
	}
	return secretPrefix + "…"
}

// GoString keeps the secret out of %#v.
func (s Secret) GoString() string { return "webhook.Secret{…}" }

// Zero reports whether s holds no key.
func (s Secret) Zero() bool { return len(s.key) == 0 }

// MarshalText implements encoding.TextMarshaler, for the sealed endpoint
// records of the store.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.Text()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Secret) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = Secret{}
		return nil
	}
	p, err := ParseSecret(string(b))
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// signature is the v1 signature of one message under one secret.
func (s Secret) signature(id string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, s.key)
	fmt.Fprintf(mac, "%s.%d.", id, ts)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Sign returns the value of webhook-signature for message id sent at ts
// with body: one v1 signature per secret, space-separated.
func Sign(secrets []Secret, id string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("sign webhook: no secret")
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		if s.Zero() {
			return "", errors.New("sign webhook: empty secret")
		}
		sigs = append(sigs, s.signature(id, ts.Unix(), body))
	}
	return strings.Join(sigs, " "), nil
}

// SetHeaders sets the three Standard Webhooks headers of a delivery on h.
func SetHeaders(h http.Header, secrets []Secret, id string, ts time.Time, body []byte) error {
	sig, err := Sign(secrets, id, ts, body)
	if err != nil {
		return err
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return nil
}
