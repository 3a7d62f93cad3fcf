package entities_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/docket-dev/docket/entities"
	"github.com/stretchr/testify/require"
)

// checkInvariants holds for any text: offsets are runes within the text and
// name the entity's text, entities are sorted, and each has a known label
// and source.
func checkInvariants(t *testing.T, text string, got []entities.Entity) {
	t.Helper()
	runes := []rune(text) // invalid bytes become one U+FFFD each
	known := map[string]bool{}
	for _, l := range append(append([]string{}, entities.StructuredLabels...), entities.ModelLabels...) {
		known[l] = true
	}
	for i, e := range got {
		require.True(t, known[e.Label], "%+v", e)
		require.Contains(t, []string{entities.SourcePattern, entities.SourceModel}, e.Source)
		require.True(t, 0 <= e.Start && e.Start < e.End && e.End <= len(runes), "%+v in %q", e, text)
		require.Equal(t, e.Text, string(runes[e.Start:e.End]))
		require.True(t, utf8.ValidString(e.Text))
		if i > 0 {
			require.LessOrEqual(t, got[i-1].Start, e.Start)
		}
	}
}

// TestExtractNoiseInput runs the extractor over deterministic noise made of
// the characters its patterns look at, to catch index errors in the
// finders: none may panic or produce offsets outside the text.
func TestExtractNoiseInput(t *testing.T) {
	x := extractor(t)
	pieces := []string{
		"0", "1", "2", "9", "00", "+", "(", ")", " ", " ", "\n", ".", ",", "-", "/", "'", "%", "€", "$", "£", "¥",
		"EUR", "USD", "DE", "GB", "CHE", "ATU", "IBAN", "BIC", "Tel", "VAT", "@", "www.", "http://", "a", "Z",
		"Mr.", "Inc.", "March", "15th", "of", "Ünal", "Müller", "&", "Bank", "\t", "\u00a0", "\xff",
	}
	seed := uint32(7)
	for range 400 {
		var b strings.Builder
		seed = seed*1664525 + 1013904223
		n := 1 + int(seed>>8)%40
		for range n {
			seed = seed*1664525 + 1013904223
			b.WriteString(pieces[int(seed>>8)%len(pieces)])
		}
		text := b.String()
		checkInvariants(t, text, x.Extract(1, text))
	}
}

func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		"Please transfer €1.234,50 to IBAN DE89 3704 0044 0532 0130 00 by 31.03.2024.",
		"Tel. +44 20 7946 0958, VAT: DE 136 695 976, BIC COBADEFFXXX",
		"Dear Mr. Smith,\nGLOBEX INC.\nwww.example.com/x_(y)",
	} {
		f.Add(s)
	}
	x, err := entities.NewExtractor()
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, text string) {
		checkInvariants(t, text, x.Extract(1, text))
	})
}
