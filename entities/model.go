package entities

import (
	"slices"
	"strings"

	"github.com/jdkato/prose/v2"
)

// token is a prose token placed in the page text.
type token struct {
	prose.Token
	start, end int // byte offsets in the page text
}

// tagLine runs the model over one line and places its tokens in the text;
// prose returns token texts only, so each is searched for after the last.
func (x *Extractor) tagLine(text string, from, to int) (toks []token, ok bool) {
	defer func() {
		// A panic inside prose on some odd input must cost the names of
		// one line, not the worker.
		if recover() != nil {
			toks, ok = nil, false
		}
	}()
	line := text[from:to]
	doc, err := prose.NewDocument(line, prose.UsingModel(x.model), prose.WithSegmentation(false))
	if err != nil {
		return nil, false
	}
	at := 0
	for _, t := range doc.Tokens() {
		i := strings.Index(line[at:], t.Text)
		if i < 0 {
			// prose rewrites curly quotes; such a token cannot be placed
			// and is left out, which at worst splits a name.
			continue
		}
		s := at + i
		at = s + len(t.Text)
		toks = append(toks, token{Token: t, start: from + s, end: from + at})
	}
	return toks, true
}

// findNames returns the people, organisations and places the model finds.
// The model is run line by line: in invoices and letterheads a line is a
// field of its own, and a name never continues onto the next field.
func (x *Extractor) findNames(text string, structured []span) []span {
	var out []span
	for from := 0; from <= len(text); {
		to := strings.IndexByte(text[from:], '\n')
		if to < 0 {
			to = len(text)
		} else {
			to += from
		}
		if strings.TrimSpace(text[from:to]) != "" {
			if toks, ok := x.tagLine(text, from, to); ok {
				var onLine []span
				for _, s := range structured {
					if s.start < to && s.end > from {
						onLine = append(onLine, s)
					}
				}
				out = append(out, chunk(text, from, to, toks, onLine)...)
			}
		}
		from = to + 1
	}
	return out
}

// modelLabel maps the model's IOB labels to ours; "" for none.
func modelLabel(l string) string {
	_, l, _ = strings.Cut(l, "-")
	switch l {
	case "PERSON":
		return LabelPerson
	case "GPE":
		return LabelPlace
	case "ORGANIZATION":
		return LabelOrg
	}
	return ""
}

// chunk groups the labelled tokens of one line into entities and applies the
// post-filters that the labelled set showed to be needed (see stopwords.go):
// tokens inside structured entities, capitalised common and document words
// (sentence starts, headers), titles and job titles at the edges, addresses,
// and organisation suffixes the model leaves out.
func chunk(text string, lineStart, lineEnd int, toks []token, structured []span) []span {
	c := &lineChunker{
		text:    text,
		line:    strings.TrimSpace(text[lineStart:lineEnd]),
		lineEnd: lineEnd,
		toks:    toks,
		blocked: blockedTokens(toks, structured),
	}
	var out []span
	prev := 0 // tokens before prev belong to an earlier entity
	for i := 0; i < len(toks); {
		// A title makes the capitalised words after it a person, whatever
		// the model thought of them.
		if j := c.afterTitle(i); j > i+1 {
			out = c.appendEntity(out, i+1, j, LabelPerson)
			i, prev = j, j
			continue
		}
		if !c.named(i) {
			i++
			continue
		}
		i = c.nameStart(i, prev)
		j := c.nameEnd(i)
		out = c.appendEntity(out, i, j, "")
		i, prev = j, j
	}
	return out
}

// lineChunker is one line's tokens while chunk groups them, with what every
// decision about a run of them needs: the page text (token offsets are into
// it), the trimmed line (a header is recognised by being the whole line) and
// which tokens structured entities already claim.
type lineChunker struct {
	text    string
	line    string // text[lineStart:lineEnd], trimmed
	lineEnd int
	toks    []token
	blocked []bool // toks[i] overlaps a structured entity
}

// blockedTokens marks the tokens that overlap a structured entity: an IBAN or
// a date is never part of a name, whatever the model says about its pieces.
func blockedTokens(toks []token, structured []span) []bool {
	blocked := make([]bool, len(toks))
	for i, t := range toks {
		for _, s := range structured {
			if t.start < s.end && s.start < t.end {
				blocked[i] = true
			}
		}
	}
	return blocked
}

// named reports whether the model labelled toks[i] as part of a name.
func (c *lineChunker) named(i int) bool {
	return !c.blocked[i] && modelLabel(c.toks[i].Label) != ""
}

// properNoun reports whether toks[i] is a capitalised proper noun that may
// join a name the model labelled only in part.
func (c *lineChunker) properNoun(i int) bool {
	t := c.toks[i]
	return !c.blocked[i] && (t.Tag == "NNP" || t.Tag == "NNPS") && capitalised(t.Text) && !isStopToken(t.Text)
}

// afterTitle returns the end of the up to three capitalised words that follow
// a title at toks[i] ("Mr", "Dr"), or i+1 when toks[i] is no title or no such
// word follows it.
func (c *lineChunker) afterTitle(i int) int {
	toks := c.toks
	if !isTitle(toks[i].Text) {
		return i + 1
	}
	j := i + 1
	for j < len(toks) && j-i <= 3 && !c.blocked[j] && capitalised(toks[j].Text) && !isStopToken(toks[j].Text) {
		j++
	}
	return j
}

// nameStart moves the start of a name back from the labelled toks[i] over the
// proper nouns before it, but not into an earlier entity (which ends at
// prev). Like prose's own chunker: the model often labels one word of a name.
func (c *lineChunker) nameStart(i, prev int) int {
	for i > 0 && i > prev && c.properNoun(i-1) {
		i--
	}
	return i
}

// nameEnd returns the end of the name that starts at toks[i]: labelled words,
// proper nouns and organisation suffixes, joined by "&" ("Marks & Spencer")
// or, in an organisation, by "of" ("Bank of America").
func (c *lineChunker) nameEnd(i int) int {
	toks := c.toks
	capitalisedAt := func(k int) bool { return k < len(toks) && !c.blocked[k] && capitalised(toks[k].Text) }
	j := i + 1
	for j < len(toks) {
		switch {
		case c.named(j) || c.properNoun(j) || !c.blocked[j] && isOrgSuffix(toks[j].Text) && capitalised(toks[j].Text):
			j++
			continue
		case toks[j].Text == "&" && capitalisedAt(j+1):
			j += 2
			continue
		case toks[j].Text == "of" && capitalisedAt(j+1) &&
			slices.ContainsFunc(toks[i:j], func(t token) bool { return isOrgWord(t.Text) }):
			// Bank of America, University of Leeds, Ministry of Finance.
			j += 2
			continue
		}
		break
	}
	return j
}

// appendEntity appends the entity toks[i:j] make, if the post-filters leave
// one; forced is its label when the caller knows it (after a title), else ""
// for the label to be decided from the words.
func (c *lineChunker) appendEntity(out []span, i, j int, forced string) []span {
	i, j = c.trim(i, j)
	if i >= j {
		return out
	}
	words := c.toks[i:j]
	lastWord := last(words).Text
	if isAddressWord(lastWord) {
		return out // a street, which is not a place in our sense
	}
	start, end := words[0].start, last(words).end
	// "Corp." is split into "Corp" and "." by the tokenizer; the dot is
	// part of the name.
	if abbreviations[norm(lastWord)] && end < c.lineEnd && c.text[end] == '.' {
		end++
	}
	label := forced
	if label == "" {
		label = c.label(words)
	}
	if isAcronym(c.text[start:end]) && (codeLike(c.toks, i-1) || codeLike(c.toks, j)) {
		return out // a group of letters in a code (an IBAN that failed its check)
	}
	if allCaps(c.text[start:end]) && label != LabelOrg && c.line == c.text[start:end] {
		return out // an all-caps header line
	}
	return append(out, span{start: start, end: end, label: label, source: SourceModel})
}

// trim drops the edge tokens of toks[i:j] that are never part of a name:
// stop words at either end, and uncapitalised words at the end unless they
// are an organisation suffix.
func (c *lineChunker) trim(i, j int) (int, int) {
	toks := c.toks
	for i < j && isStopToken(toks[i].Text) {
		i++
	}
	for j > i && (isStopToken(toks[j-1].Text) || !capitalised(toks[j-1].Text)) && !isOrgSuffix(toks[j-1].Text) {
		j--
	}
	return i, j
}

// label decides what kind of name words are when nothing forces it: the
// labelled set showed organisation words and suffixes, and abbreviations in
// mixed-case text, to be better evidence than the model's own label.
func (c *lineChunker) label(words []token) string {
	switch {
	case isOrgSuffix(last(words).Text) || slices.ContainsFunc(words, func(t token) bool { return isOrgWord(t.Text) }):
		return LabelOrg
	case isAcronym(words[0].Text) && !allCaps(c.line):
		// In mixed-case text a name in capitals is an abbreviation,
		// and abbreviated names in business letters are mostly
		// organisations (KPMG, HSBC); the model mostly says PLACE.
		return LabelOrg
	}
	if label := modelLabel(words[0].Label); label != "" {
		return label
	}
	return LabelPerson
}

func last(ts []token) token { return ts[len(ts)-1] }

// codeLike reports whether toks[i] exists and is a group of capitals and
// digits with at least one digit, as in account numbers and references.
func codeLike(toks []token, i int) bool {
	if i < 0 || i >= len(toks) {
		return false
	}
	digits := false
	for _, c := range []byte(toks[i].Text) {
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c >= 'A' && c <= 'Z':
		default:
			return false
		}
	}
	return digits
}
