// Package entities finds named entities in the text of a document page: the
// structured values an invoice or a letter carries (e-mail addresses, URLs,
// phone numbers, dates, money amounts, IBANs, percentages, VAT numbers) by
// validated patterns, and people, organisations and places by the named-entity
// model that ships with github.com/jdkato/prose/v2.
//
// Structured values are only reported once they pass a check beyond their
// shape: a calendar check for dates, mod-97 for IBANs, libphonenumber's
// numbering plans for phone numbers, check digits for VAT numbers where the
// country defines them. A value that looks right but fails its check is not an
// entity, so that a mistyped IBAN never reaches a payment step.
package entities

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jdkato/prose/v2"
	"github.com/nyaruka/phonenumbers"
)

// Entity labels. The structured ones carry a normalized Value.
const (
	// LabelEmail is an e-mail address; Value is the address lower-cased.
	LabelEmail = "EMAIL"
	// LabelURL is a web address starting with http(s):// or www.; Value has
	// a scheme (https:// is assumed for www.) and a lower-cased host.
	LabelURL = "URL"
	// LabelPhone is a phone number valid in libphonenumber's numbering plan;
	// Value is E.164 (+4930123456).
	LabelPhone = "PHONE"
	// LabelDate is a calendar date with day, month and year; Value is
	// 2006-01-02.
	LabelDate = "DATE"
	// LabelMoney is an amount with a currency symbol or ISO 4217 code; Value
	// is the code, a space and the amount with a dot as decimal separator
	// and the currency's minor digits ("EUR 1234.50", "JPY 150000").
	LabelMoney = "MONEY"
	// LabelIBAN is an IBAN of the right length for its country whose mod-97
	// checksum holds; Value has no spaces.
	LabelIBAN = "IBAN"
	// LabelPercent is a number followed by a percent sign; Value is the
	// number with a dot as decimal separator and a % ("2.5%").
	LabelPercent = "PERCENT"
	// LabelVATID is a European (or Swiss) VAT identification number; Value
	// is the number without spaces or dots.
	LabelVATID = "VAT_ID"
	// LabelBIC is a SWIFT/BIC bank code following the word BIC or SWIFT;
	// Value is the code.
	LabelBIC = "BIC"
	// LabelPerson is a person's name, without titles such as Mr. or Dr.
	LabelPerson = "PERSON"
	// LabelOrg is an organisation: a company, a bank, an authority.
	LabelOrg = "ORG"
	// LabelPlace is a city, region or country (the model's GPE).
	LabelPlace = "PLACE"
)

// Sources of an entity, in the order Merge prefers them.
const (
	// SourcePattern is a validated pattern of this package.
	SourcePattern = "pattern"
	// SourceLLM is a language model asked for names (package llm).
	SourceLLM = "llm"
	// SourceModel is this package's named-entity model.
	SourceModel = "model"
)

// StructuredLabels are the labels found by validated patterns.
var StructuredLabels = []string{LabelEmail, LabelURL, LabelPhone, LabelDate, LabelMoney, LabelIBAN, LabelPercent, LabelVATID, LabelBIC}

// ModelLabels are the labels found by the named-entity model (or an LLM).
var ModelLabels = []string{LabelPerson, LabelOrg, LabelPlace}

// Entity is one entity found in the text of a page.
type Entity struct {
	Label string `json:"label"`
	// Text is the entity as it appears in the page text.
	Text string `json:"text"`
	// Value is the normalized value of a structured entity (see the labels).
	Value string `json:"value,omitempty"`
	Page  int    `json:"page"`
	// Start and End are rune (not byte) offsets in the page text, End
	// exclusive, so that consumers in other languages can slice the text.
	Start  int    `json:"start"`
	End    int    `json:"end"`
	Source string `json:"source"`
}

// Option changes how an Extractor interprets ambiguous text.
type Option func(*Extractor)

// WithPhoneRegion sets the region (ISO 3166 alpha-2, e.g. "GB") whose
// national numbering plan applies to phone numbers written without a
// country code. The default is "US".
func WithPhoneRegion(region string) Option {
	return func(x *Extractor) { x.region = strings.ToUpper(region) }
}

// WithMonthFirstDates reads numeric dates whose day and month are both 12 or
// less (03/04/2024) as month first, the US way. By default they are read day
// first, as in most of Europe; a date like 03/15/2024 is read month first
// either way because it cannot be anything else.
func WithMonthFirstDates() Option {
	return func(x *Extractor) { x.monthFirst = true }
}

// WithoutModel skips the named-entity model, so that only structured
// entities are found. It saves the model's load time and memory where people,
// organisations and places come from elsewhere (an LLM).
func WithoutModel() Option {
	return func(x *Extractor) { x.noModel = true }
}

// Extractor finds entities in page text. It is safe for concurrent use; build
// it once per worker, since NewExtractor loads the model (about a second).
type Extractor struct {
	model      *prose.Model
	region     string
	monthFirst bool
	noModel    bool
}

// NewExtractor loads the named-entity model and returns an Extractor.
func NewExtractor(opts ...Option) (x *Extractor, err error) {
	x = &Extractor{region: "US"}
	for _, o := range opts {
		o(x)
	}
	if !phonenumbers.GetSupportedRegions()[x.region] {
		return nil, fmt.Errorf("entities: phone region %q: not a region libphonenumber knows", x.region)
	}
	if x.noModel {
		return x, nil
	}
	// prose panics when its embedded model fails to decode; a worker should
	// get an error it can report instead.
	defer func() {
		if r := recover(); r != nil {
			x, err = nil, fmt.Errorf("entities: load prose model: %v", r)
		}
	}()
	// ModelFromData without data sources is prose's default model; holding
	// it keeps NewDocument from decoding the model again for every page.
	x.model = prose.ModelFromData("prose-en")
	return x, nil
}

// Extract returns the entities of one page's text, sorted by start offset.
// Offsets count runes as Go's []rune(text) does, an invalid UTF-8 byte
// being one rune (U+FFFD in Text).
// Structured entities come from patterns; people, organisations and places
// from the model, minus those that overlap a structured entity.
func (x *Extractor) Extract(page int, text string) []Entity {
	if !utf8.ValidString(text) {
		text = replaceInvalid(text)
	}
	spans := resolve(findPatterns(text, x))
	if !x.noModel && x.model != nil {
		spans = append(spans, x.findNames(text, spans)...)
	}
	return toEntities(page, text, spans)
}

// replaceInvalid replaces each byte that is not part of valid UTF-8 with
// U+FFFD, as Go's []rune conversion and range loops do, so that offsets
// stay those of the caller's rune view of the text and Text is valid UTF-8.
func replaceInvalid(text string) string {
	var b strings.Builder
	b.Grow(len(text) + 8)
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(text[i : i+size])
		}
		i += size
	}
	return b.String()
}

// span is an entity under construction, with byte offsets.
type span struct {
	start, end int
	label      string
	value      string
	source     string
}

// toEntities turns byte spans into entities with rune offsets.
func toEntities(page int, text string, spans []span) []Entity {
	slices.SortFunc(spans, func(a, b span) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.end, b.end), strings.Compare(a.label, b.label))
	})
	out := make([]Entity, 0, len(spans))
	// Spans are sorted by start, so one forward pass counts runes for all.
	runes, at := 0, 0
	runeAt := func(b int) int {
		if b < at {
			return utf8.RuneCountInString(text[:b])
		}
		runes += utf8.RuneCountInString(text[at:b])
		at = b
		return runes
	}
	for _, s := range spans {
		start := runeAt(s.start)
		end := start + utf8.RuneCountInString(text[s.start:s.end])
		out = append(out, Entity{
			Label:  s.label,
			Text:   text[s.start:s.end],
			Value:  s.value,
			Page:   page,
			Start:  start,
			End:    end,
			Source: cmp.Or(s.source, SourcePattern),
		})
	}
	return out
}

// Locate finds every occurrence of surface in text and returns one entity for
// each, with rune offsets. It is for entities that arrive without offsets
// (from an LLM): exact occurrences are preferred; only if there are none are
// case-insensitive ones (Unicode simple folding) returned. Only whole-word
// occurrences count, so that "Ann" is not found in "Annual".
func Locate(page int, text, label, surface, source string) []Entity {
	surface = strings.TrimSpace(surface)
	if surface == "" {
		return nil
	}
	var exact, folded []span
	for i := 0; i < len(text); {
		if e, ok := matchAt(text, i, surface, false); ok && wordBoundary(text, i, e) {
			exact = append(exact, span{start: i, end: e, label: label, source: source})
		} else if e, ok := matchAt(text, i, surface, true); ok && wordBoundary(text, i, e) {
			folded = append(folded, span{start: i, end: e, label: label, source: source})
		}
		_, size := utf8.DecodeRuneInString(text[i:])
		i += size
	}
	if len(exact) > 0 {
		return toEntities(page, text, exact)
	}
	return toEntities(page, text, folded)
}

// matchAt reports whether surface occurs in text at byte offset i, exactly or
// up to case, and where the occurrence ends. Folding rune by rune keeps the
// offsets those of text even where upper and lower case differ in length.
func matchAt(text string, i int, surface string, fold bool) (int, bool) {
	if !fold {
		return i + len(surface), strings.HasPrefix(text[i:], surface)
	}
	j := i
	for _, want := range surface {
		if j >= len(text) {
			return 0, false
		}
		got, size := utf8.DecodeRuneInString(text[j:])
		if got != want && !equalFold(got, want) {
			return 0, false
		}
		j += size
	}
	return j, true
}

// equalFold reports whether two runes are the same under simple case folding.
func equalFold(a, b rune) bool {
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

// sourceRank orders sources for Merge: a lower rank wins.
func sourceRank(s string) int {
	switch s {
	case SourcePattern:
		return 0
	case SourceLLM:
		return 1
	case SourceModel:
		return 2
	}
	return 3
}

// Merge de-duplicates entities from several sources: entities on the same
// page with the same label and overlapping spans (sharing a rune; an empty
// span overlaps only an identical one) become one, the one from the
// preferred source (pattern, then llm, then model), then the longer, then
// the earlier. Entities of different labels are kept even if they overlap,
// since the sources disagree and the caller may want to see both. The result
// is sorted by page, then start, then end, then label.
func Merge(lists ...[]Entity) []Entity {
	var all []Entity
	for _, l := range lists {
		all = append(all, l...)
	}
	// Candidates in order of preference: each is kept unless it overlaps a
	// kept entity of its label.
	slices.SortStableFunc(all, func(a, b Entity) int {
		return cmp.Or(
			cmp.Compare(sourceRank(a.Source), sourceRank(b.Source)),
			cmp.Compare(b.End-b.Start, a.End-a.Start),
			cmp.Compare(a.Page, b.Page),
			cmp.Compare(a.Start, b.Start),
		)
	})
	type key struct {
		page  int
		label string
	}
	kept := map[key]*intervals{}
	out := make([]Entity, 0, len(all))
	for _, e := range all {
		k := key{e.Page, e.Label}
		if kept[k] == nil {
			kept[k] = &intervals{}
		}
		if kept[k].add(e.Start, e.End) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b Entity) int {
		return cmp.Or(cmp.Compare(a.Page, b.Page), cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End), strings.Compare(a.Label, b.Label))
	})
	return out
}
