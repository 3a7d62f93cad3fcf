package auth_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/auth"
)

func TestNewSecret(t *testing.T) {
	// dk_ and 32 bytes of unpadded base64url: 43 characters.
	shape := regexp.MustCompile(`^dk_[A-Za-z0-9_-]{43}$`)
	seen := map[string]bool{}
	for range 100 {
		s, err := auth.NewSecret()
		require.NoError(t, err)
		require.Regexp(t, shape, s)
		require.False(t, seen[s], "secrets repeat")
		seen[s] = true
	}
}

func TestHashSecret(t *testing.T) {
	for _, tc := range []struct{ secret, want string }{
		// The SHA-256 test vectors of FIPS 180-2.
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	} {
		require.Equal(t, tc.want, auth.HashSecret(tc.secret))
	}
}
