package pagetoken_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/pagetoken"
)

func TestSealOpen(t *testing.T) {
	sealed := pagetoken.Seal("q", []byte("next"))
	got, ok := pagetoken.Open("q", sealed)
	require.True(t, ok)
	require.Equal(t, []byte("next"), got)
	require.Empty(t, pagetoken.Seal("q", nil), "the last page has no token")

	for name, s := range map[string]string{
		"other scope":  "",
		"garbage":      "garbage",
		"not base64":   "***",
		"NUL":          "\x00",
		"empty":        "",
		"too short":    "AAAA",
		"flipped byte": flip(sealed),
		"too long":     strings.Repeat("A", pagetoken.MaxLen+1),
	} {
		t.Run(name, func(t *testing.T) {
			scope := "q"
			if name == "other scope" {
				scope, s = "other", sealed
			}
			_, ok := pagetoken.Open(scope, s)
			require.False(t, ok)
		})
	}
}

// flip changes one character in the middle of a token (the last one may
// only carry base64 padding bits).
func flip(s string) string {
	b := []byte(s)
	b[len(b)/2] ^= 1
	return string(b)
}
