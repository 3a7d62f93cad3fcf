package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// SecretPrefix starts every secret NewSecret makes, so that secret
// scanners (GitHub's, gitleaks) can be taught to find leaked ones.
const SecretPrefix = "dk_"

// secretBytes is the secret's entropy: 256 bits, beyond guessing, which is
// also why a plain (unsalted, fast) SHA-256 is enough to store it.
const secretBytes = 32

// NewSecret returns a new random API key secret: SecretPrefix followed by
// 32 bytes from crypto/rand in unpadded base64url, so it needs no quoting
// in a header, a URL or a shell.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random bytes for a secret: %w", err)
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashSecret returns the lowercase hex SHA-256 of secret, the form the keys
// file stores.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
