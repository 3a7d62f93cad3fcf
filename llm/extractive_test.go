package llm_test

import (
	"strings"
	"testing"

	"github.com/docket-dev/docket/llm"
	"github.com/stretchr/testify/require"
)

const sampleLetter = `Northwind Traders Ltd
12 Baker Street, London

Dear Mr. Smith,

thank you for your order of 2 March 2024. We are pleased to confirm that the
order for twelve office chairs and four desks has been shipped from our London
warehouse today.

The invoice for the order, number INV-2024-0315, totals EUR 4,820.00 and is due
on 31 March 2024. Please transfer the invoice amount to the account shown on the
invoice and quote the invoice number with your payment.

The chairs come with a five-year warranty. If a chair or desk arrives damaged,
please contact our customer service within 14 days and we will replace it.

Our offices will be closed on 29 March for the Easter holiday.

Kind regards,
Peter Miller
Accounts, Northwind Traders Ltd`

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestExtractive(t *testing.T) {
	for _, max := range []int{10, 25, 40, 60, 1000} {
		s := llm.Extractive(sampleLetter, max)
		require.Equal(t, "extractive", s.Method)
		require.Empty(t, s.Model)
		require.Nil(t, s.Usage)
		require.NotEmpty(t, s.Text)
		require.LessOrEqual(t, len(strings.Fields(s.Text)), max, "max %d", max)
		require.Equal(t, s, llm.Extractive(sampleLetter, max), "deterministic")
		t.Logf("%d words: %s", max, s.Text)
	}

	// With room for a few sentences: they are whole sentences of the
	// letter, in the letter's order, and the invoice sentence (the one
	// with the letter's most frequent words) is among them.
	s := llm.Extractive(sampleLetter, 40)
	letter := collapse(sampleLetter)
	require.Contains(t, s.Text, "The invoice for the order, number INV-2024-0315, totals EUR 4,820.00 and is due on 31 March 2024.")
	last := -1
	for _, sent := range splitOnEnds(s.Text) {
		i := strings.Index(letter, sent)
		require.GreaterOrEqual(t, i, 0, "%q is not from the text", sent)
		require.Greater(t, i, last, "in the text's order")
		last = i
	}

	// Everything fits: every sentence comes back, but not the letterhead,
	// salutation or signature.
	all := llm.Extractive(sampleLetter, 1000)
	require.Len(t, splitOnEnds(all.Text), 7)
	require.NotContains(t, all.Text, "Baker Street")
	require.NotContains(t, all.Text, "Kind regards")
}

// splitOnEnds splits a summary back into its sentences at a full stop,
// question or exclamation mark followed by a space and a capital letter,
// which is enough for the sample letter.
func splitOnEnds(s string) []string {
	var out []string
	start := 0
	for i := 0; i+2 < len(s); i++ {
		if strings.IndexByte(".!?", s[i]) >= 0 && s[i+1] == ' ' && s[i+2] >= 'A' && s[i+2] <= 'Z' {
			out = append(out, s[start:i+1])
			start = i + 2
		}
	}
	return append(out, s[start:])
}

func TestExtractiveEdgeCases(t *testing.T) {
	require.Equal(t, llm.Summary{Method: "extractive"}, llm.Extractive("", 10))
	require.Equal(t, llm.Summary{Method: "extractive"}, llm.Extractive(" \n\t ", 10))

	// A single sentence longer than maxWords is cut.
	long := strings.Repeat("invoice payment ", 20) + "done."
	s := llm.Extractive(long, 5)
	require.Equal(t, "invoice payment invoice payment invoice…", s.Text)

	// The caller owns the default length: 0 words allows no words, rather
	// than a second default that could drift from the job's.
	require.Equal(t, llm.Summary{Method: "extractive"}, llm.Extractive(sampleLetter, 0))
	require.Equal(t, llm.Summary{Method: "extractive"}, llm.Extractive(sampleLetter, -1))

	// Abbreviations and initials do not end sentences.
	s = llm.Extractive("Mr. J. Smith of Acme Inc. paid the invoice. The invoice was paid on time. Weather was nice today", 12)
	require.Contains(t, s.Text, "Mr. J. Smith of Acme Inc. paid the invoice.")
}
