package entities_test

import (
	"cmp"
	"slices"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/docket-dev/docket/entities"
	"github.com/stretchr/testify/require"
)

// The model takes a second to load; the tests share one extractor, which
// also exercises its use from several tests.
var shared = sync.OnceValues(func() (*entities.Extractor, error) { return entities.NewExtractor() })

func extractor(t *testing.T) *entities.Extractor {
	t.Helper()
	x, err := shared()
	require.NoError(t, err)
	return x
}

// find returns the entities of a label, for tests that look at one.
func find(es []entities.Entity, label string) []entities.Entity {
	var out []entities.Entity
	for _, e := range es {
		if e.Label == label {
			out = append(out, e)
		}
	}
	return out
}

func TestOffsetsAreRunes(t *testing.T) {
	x := extractor(t)
	// Multi-byte runes before and inside entities: offsets must count
	// runes, not bytes.
	text := "Größe: Thomas Müller (Köln) zahlte €1.234,50 am 15.03.2024 — IBAN DE89 3704 0044 0532 0130 00, ✉ müller@example.de, Tel. +49 221 1234567."
	got := x.Extract(7, text)
	require.NotEmpty(t, got)
	runes := []rune(text)
	labels := map[string]bool{}
	for _, e := range got {
		require.Equal(t, 7, e.Page)
		require.GreaterOrEqual(t, e.Start, 0)
		require.LessOrEqual(t, e.End, len(runes))
		require.Equal(t, e.Text, string(runes[e.Start:e.End]), "%+v", e)
		labels[e.Label] = true
	}
	for _, l := range []string{entities.LabelMoney, entities.LabelDate, entities.LabelIBAN, entities.LabelEmail, entities.LabelPhone} {
		require.True(t, labels[l], "no %s in %v", l, got)
	}
	for i := 1; i < len(got); i++ {
		require.LessOrEqual(t, got[i-1].Start, got[i].Start, "sorted by start")
	}
}

func TestInvalidUTF8(t *testing.T) {
	x := extractor(t)
	text := "bad \xff\xfe bytes, then 2024-03-15 and info@example.com"
	got := x.Extract(1, text)
	require.Len(t, find(got, entities.LabelDate), 1)
	runes := []rune(text) // two invalid bytes, two runes
	for _, e := range got {
		require.True(t, utf8.ValidString(e.Text))
		require.Equal(t, e.Text, string(runes[e.Start:e.End]))
	}
}

func TestValues(t *testing.T) {
	x := extractor(t)
	tests := []struct {
		text, label, want string
	}{
		{"Mail INFO@Example.COM today", entities.LabelEmail, "info@example.com"},
		{"See WWW.Example.com/Path?q=1.", entities.LabelURL, "https://www.example.com/Path?q=1"},
		{"(see https://example.org/a_(b))", entities.LabelURL, "https://example.org/a_(b)"},
		{"Call +44 20 7946 0958 now", entities.LabelPhone, "+442079460958"},
		{"Call 0044 20 7946 0958 now", entities.LabelPhone, "+442079460958"},
		{"Tel: (415) 555-0132", entities.LabelPhone, "+14155550132"},
		{"on 15/03/2024.", entities.LabelDate, "2024-03-15"},
		{"on 03/15/2024.", entities.LabelDate, "2024-03-15"},
		{"on 04/03/2024.", entities.LabelDate, "2024-03-04"},
		{"on 15.03.2024.", entities.LabelDate, "2024-03-15"},
		{"on March 15, 2024.", entities.LabelDate, "2024-03-15"},
		{"on 15 March 2024.", entities.LabelDate, "2024-03-15"},
		{"on 1st of Sept. 2024.", entities.LabelDate, "2024-09-01"},
		{"on 29 February 2024", entities.LabelDate, "2024-02-29"},
		{"pay €1.234,50 now", entities.LabelMoney, "EUR 1234.50"},
		{"pay $1,234.50 now", entities.LabelMoney, "USD 1234.50"},
		{"pay 1 234,50 EUR now", entities.LabelMoney, "EUR 1234.50"},
		{"pay USD 99 now", entities.LabelMoney, "USD 99.00"},
		{"pay CHF 1'250.00 now", entities.LabelMoney, "CHF 1250.00"},
		{"pay JPY 150,000 now", entities.LabelMoney, "JPY 150000"},
		{"pay US$ 20 now", entities.LabelMoney, "USD 20.00"},
		{"pay 12,5 EUR now", entities.LabelMoney, "EUR 12.50"},
		{"IBAN GB82 WEST 1234 5698 7654 32 BIC", entities.LabelIBAN, "GB82WEST12345698765432"},
		{"IBAN DE89370400440532013000.", entities.LabelIBAN, "DE89370400440532013000"},
		{"rate 7,5 % p.a.", entities.LabelPercent, "7.5%"},
		{"VAT: DE 136 695 976", entities.LabelVATID, "DE136695976"},
		{"UID CHE-116.281.710 MWST", entities.LabelVATID, "CHE116281710"},
		{"VAT Reg. GB 980 2549 06", entities.LabelVATID, "GB980254906"},
		{"BIC: COBADEFFXXX", entities.LabelBIC, "COBADEFFXXX"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got := find(x.Extract(1, tt.text), tt.label)
			require.Len(t, got, 1, "%v", x.Extract(1, tt.text))
			require.Equal(t, tt.want, got[0].Value)
			require.Equal(t, entities.SourcePattern, got[0].Source)
		})
	}
}

func TestRejected(t *testing.T) {
	x := extractor(t)
	tests := []struct {
		text, label string
	}{
		{"on 31/02/2024", entities.LabelDate},
		{"on 2023-02-29", entities.LabelDate},
		{"on 2024-13-01", entities.LabelDate},
		{"on 32.01.2024", entities.LabelDate},
		{"on 15.03-2024", entities.LabelDate},
		{"ref 2024-03-15-0012", entities.LabelDate},
		{"the may 3 2024 file", entities.LabelDate},
		{"IBAN DE89 3704 0044 0532 0130 01", entities.LabelIBAN},
		{"IBAN DE89 3704 0044 0532 0130", entities.LabelIBAN},
		{"IBAN XX89 3704 0044 0532 0130 00", entities.LabelIBAN},
		{"customer 4471 2290 1187", entities.LabelPhone},
		{"Tel. +49 123", entities.LabelPhone},
		{"a@b", entities.LabelEmail},
		{"x..y@example.com", entities.LabelEmail},
		{"www.example", entities.LabelURL},
		{"EUROPE 2024", entities.LabelMoney},
		{"$1,23,456", entities.LabelMoney},
		{"VAT DE136695977", entities.LabelVATID},
		{"item PL1234567890", entities.LabelVATID},
		{"UID CHE-116.281.711", entities.LabelVATID},
		{"heading PAYMENTS ABCDXYZ1", entities.LabelBIC},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			require.Empty(t, find(x.Extract(1, tt.text), tt.label))
		})
	}
}

func TestOptions(t *testing.T) {
	de, err := entities.NewExtractor(entities.WithPhoneRegion("de"), entities.WithMonthFirstDates(), entities.WithoutModel())
	require.NoError(t, err)
	got := de.Extract(1, "Tel. 030 1234567, am 04/03/2024, Peter Miller aus Berlin")
	require.Equal(t, "+49301234567", find(got, entities.LabelPhone)[0].Value)
	require.Equal(t, "2024-04-03", find(got, entities.LabelDate)[0].Value)
	require.Empty(t, find(got, entities.LabelPerson), "WithoutModel finds no names")

	_, err = entities.NewExtractor(entities.WithPhoneRegion("XX"))
	require.Error(t, err)

	// A US extractor does not read a German national number.
	require.Empty(t, find(extractor(t).Extract(1, "Tel. 030 1234567"), entities.LabelPhone))
}

func TestValidIBAN(t *testing.T) {
	tests := []struct {
		iban string
		ok   bool
	}{
		{"DE89 3704 0044 0532 0130 00", true},
		{"DE89370400440532013000", true},
		{"GB82 WEST 1234 5698 7654 32", true},
		{"FR14 2004 1010 0505 0001 3M02 606", true},
		{"NL91 ABNA 0417 1643 00", true},
		{"BE68 5390 0754 7034", true},
		{"CH93 0076 2011 6238 5295 7", true},
		{"NO93 8601 1117 947", true},
		{"DE89 3704 0044 0532 0130 01", false}, // checksum
		{"DE88 3704 0044 0532 0130 00", false}, // check digits
		{"GB82 WEST 1234 5698 7654 3", false},  // length
		{"DE89 3704 0044 0532 0130 000", false},
		{"XX89 3704 0044 0532 0130 00", false}, // country
		{"de89 3704 0044 0532 0130 00", false}, // lower case
		{"DE8A 3704 0044 0532 0130 00", false},
		{"", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.ok, entities.ValidIBAN(tt.iban), tt.iban)
	}
}

func TestNames(t *testing.T) {
	x := extractor(t)
	got := x.Extract(1, "Dear Mr. Smith,\nINVOICE\nPeter Miller from Globex Inc. in Chicago paid the IBAN DE89 3704 0044 0532 0130 00 on March 3, 2024.")
	names := map[string]string{}
	for _, e := range got {
		if e.Source == entities.SourceModel {
			names[e.Text] = e.Label
		}
	}
	require.Equal(t, map[string]string{
		"Smith":        entities.LabelPerson, // title stripped, person by title
		"Peter Miller": entities.LabelPerson,
		"Globex Inc.":  entities.LabelOrg, // suffix taken in, with its dot
		"Chicago":      entities.LabelPlace,
	}, names) // not "Dear", "INVOICE", "IBAN" or "March"

	got = x.Extract(1, "The Bank of America and the University of Leeds agreed.")
	require.Equal(t, []string{"Bank of America", "University of Leeds"}, texts(find(got, entities.LabelOrg)))
}

func texts(es []entities.Entity) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Text)
	}
	return out
}

func TestConcurrentExtract(t *testing.T) {
	x := extractor(t)
	texts := []string{
		"Sarah Thompson from Acme Corporation visited Chicago on 2024-03-02.",
		"Please transfer €1.234,50 to IBAN DE89 3704 0044 0532 0130 00 by 31.03.2024.",
		"Mary Johnson, Globex Inc., San Francisco, +1 212 555 0142",
	}
	want := make([][]entities.Entity, len(texts))
	for i, s := range texts {
		want[i] = x.Extract(i, s)
	}
	var wg sync.WaitGroup
	got := make([][]entities.Entity, 8*len(texts))
	for i := range got {
		wg.Go(func() { got[i] = x.Extract(i%len(texts), texts[i%len(texts)]) })
	}
	wg.Wait()
	for i := range got {
		require.Equal(t, want[i%len(texts)], got[i])
	}
}

func TestLocate(t *testing.T) {
	text := "Anna met ANNA at Annual Corp; anna left. Ünal saw Ünal."
	got := entities.Locate(2, text, entities.LabelPerson, "Anna", entities.SourceLLM)
	require.Len(t, got, 1, "exact matches first, whole words only")
	require.Equal(t, entities.Entity{Label: "PERSON", Text: "Anna", Page: 2, Start: 0, End: 4, Source: "llm"}, got[0])

	got = entities.Locate(2, text, entities.LabelPerson, "ANNa", entities.SourceLLM)
	require.Len(t, got, 3, "case-insensitive when nothing matches exactly")

	got = entities.Locate(2, text, entities.LabelPerson, "Ünal", entities.SourceLLM)
	require.Len(t, got, 2)
	runes := []rune(text)
	for _, e := range got {
		require.Equal(t, "Ünal", string(runes[e.Start:e.End]))
	}
	// Folding may change a rune's byte length (K is the Kelvin sign):
	// offsets must still be those of the text.
	got = entities.Locate(1, "Dr. \u212Aim Lee", entities.LabelPerson, "kim lee", entities.SourceLLM)
	require.Equal(t, []entities.Entity{{Label: "PERSON", Text: "\u212Aim Lee", Page: 1, Start: 4, End: 11, Source: "llm"}}, got)

	require.Empty(t, entities.Locate(2, text, entities.LabelPerson, "Bob", entities.SourceLLM))
	require.Empty(t, entities.Locate(2, text, entities.LabelPerson, "  ", entities.SourceLLM))
}

func TestMerge(t *testing.T) {
	e := func(label string, page, start, end int, source string) entities.Entity {
		return entities.Entity{Label: label, Text: source, Page: page, Start: start, End: end, Source: source}
	}
	got := entities.Merge(
		[]entities.Entity{
			e("PERSON", 1, 0, 12, "model"),  // loses to llm's overlapping PERSON
			e("ORG", 1, 20, 30, "model"),    // kept: no other ORG there
			e("PLACE", 2, 5, 10, "model"),   // kept: other page
			e("PERSON", 1, 40, 45, "model"), // kept: touches, does not overlap, 45-50
		},
		[]entities.Entity{
			e("PERSON", 1, 0, 5, "llm"),
			e("PLACE", 1, 20, 30, "llm"),  // kept: another label over the ORG
			e("PERSON", 1, 45, 50, "llm"), //
			e("DATE", 1, 60, 70, "llm"),   // loses to the pattern's DATE
		},
		[]entities.Entity{
			e("DATE", 1, 62, 72, "pattern"),
			e("DATE", 1, 62, 72, "pattern"), // exact duplicate
		},
	)
	require.Equal(t, []entities.Entity{
		e("PERSON", 1, 0, 5, "llm"),
		e("ORG", 1, 20, 30, "model"),
		e("PLACE", 1, 20, 30, "llm"),
		e("PERSON", 1, 40, 45, "model"),
		e("PERSON", 1, 45, 50, "llm"),
		e("DATE", 1, 62, 72, "pattern"),
		e("PLACE", 2, 5, 10, "model"),
	}, got)

	// Among entities of one source the longer one wins.
	got = entities.Merge([]entities.Entity{e("ORG", 1, 0, 5, "model"), e("ORG", 1, 3, 12, "model")})
	require.Equal(t, []entities.Entity{e("ORG", 1, 3, 12, "model")}, got)
	require.Empty(t, entities.Merge())
}

// TestMergeAgainstDefinition checks Merge on many overlapping spans against
// the definition: of one source and label, a span is kept unless it
// overlaps a longer (or equally long and earlier) kept one.
func TestMergeAgainstDefinition(t *testing.T) {
	overlaps := func(a, b entities.Entity) bool {
		if a.Start == a.End || b.Start == b.End {
			return a.Start == b.Start && a.End == b.End
		}
		return a.Start < b.End && b.Start < a.End
	}
	// A fixed pseudo-random sequence keeps the test deterministic.
	seed := uint32(1)
	next := func(n int) int {
		seed = seed*1664525 + 1013904223
		return int(seed>>8) % n
	}
	var in []entities.Entity
	for range 1500 {
		s := next(400)
		in = append(in, entities.Entity{Label: "DATE", Page: 1, Start: s, End: s + next(6), Source: "model"})
	}
	got := entities.Merge(in)

	// The definition, quadratically: longest first, then earliest.
	order := slices.Clone(in)
	slices.SortStableFunc(order, func(a, b entities.Entity) int {
		return cmp.Or(cmp.Compare(b.End-b.Start, a.End-a.Start), cmp.Compare(a.Start, b.Start))
	})
	var want []entities.Entity
	for _, e := range order {
		if !slices.ContainsFunc(want, func(k entities.Entity) bool { return overlaps(e, k) }) {
			want = append(want, e)
		}
	}
	slices.SortStableFunc(want, func(a, b entities.Entity) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End))
	})
	require.Equal(t, want, got)
}
