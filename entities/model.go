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
	blocked := make([]bool, len(toks))
	for i, t := range toks {
		for _, s := range structured {
			if t.start < s.end && s.start < t.end {
				blocked[i] = true
			}
		}
	}
	named := func(i int) bool { return !blocked[i] && modelLabel(toks[i].Label) != "" }

	var out []span
	emit := func(i, j int, forced string) {
		// Trim edge tokens that are never part of a name.
		for i < j && isStopToken(toks[i].Text) {
			i++
		}
		for j > i && (isStopToken(toks[j-1].Text) || !capitalised(toks[j-1].Text)) && !isOrgSuffix(toks[j-1].Text) {
			j--
		}
		if i >= j {
			return
		}
		words := toks[i:j]
		lastWord := words[len(words)-1].Text
		if isAddressWord(lastWord) {
			return // a street, which is not a place in our sense
		}
		start, end := words[0].start, last(words).end
		// "Corp." is split into "Corp" and "." by the tokenizer; the dot is
		// part of the name.
		if abbreviations[norm(lastWord)] && end < lineEnd && text[end] == '.' {
			end++
		}
		line := strings.TrimSpace(text[lineStart:lineEnd])
		label := forced
		switch {
		case label != "":
		case isOrgSuffix(lastWord) || slices.ContainsFunc(words, func(t token) bool { return isOrgWord(t.Text) }):
			label = LabelOrg
		case isAcronym(words[0].Text) && !allCaps(line):
			// In mixed-case text a name in capitals is an abbreviation,
			// and abbreviated names in business letters are mostly
			// organisations (KPMG, HSBC); the model mostly says PLACE.
			label = LabelOrg
		default:
			label = modelLabel(words[0].Label)
			if label == "" {
				label = LabelPerson
			}
		}
		if isAcronym(text[start:end]) && (codeLike(toks, i-1) || codeLike(toks, j)) {
			return // a group of letters in a code (an IBAN that failed its check)
		}
		if allCaps(text[start:end]) && label != LabelOrg && line == text[start:end] {
			return // an all-caps header line
		}
		out = append(out, span{start: start, end: end, label: label, source: SourceModel})
	}
	properNoun := func(i int) bool {
		t := toks[i]
		return !blocked[i] && (t.Tag == "NNP" || t.Tag == "NNPS") && capitalised(t.Text) && !isStopToken(t.Text)
	}
	prev := 0 // tokens before prev belong to an earlier entity
	for i := 0; i < len(toks); {
		// A title makes the capitalised words after it a person, whatever
		// the model thought of them.
		if isTitle(toks[i].Text) {
			j := i + 1
			for j < len(toks) && j-i <= 3 && !blocked[j] && capitalised(toks[j].Text) && !isStopToken(toks[j].Text) {
				j++
			}
			if j > i+1 {
				emit(i+1, j, LabelPerson)
				i, prev = j, j
				continue
			}
		}
		if !named(i) {
			i++
			continue
		}
		// Like prose's own chunker, take in the proper nouns next to a
		// labelled token: the model often labels one word of a name.
		for i > 0 && i > prev && properNoun(i-1) {
			i--
		}
		j := i + 1
		for j < len(toks) {
			switch {
			case named(j) || properNoun(j) || !blocked[j] && isOrgSuffix(toks[j].Text) && capitalised(toks[j].Text):
				j++
				continue
			case toks[j].Text == "&" && j+1 < len(toks) && !blocked[j+1] && capitalised(toks[j+1].Text):
				j += 2
				continue
			case toks[j].Text == "of" && j+1 < len(toks) && !blocked[j+1] && capitalised(toks[j+1].Text) &&
				slices.ContainsFunc(toks[i:j], func(t token) bool { return isOrgWord(t.Text) }):
				// Bank of America, University of Leeds, Ministry of Finance.
				j += 2
				continue
			}
			break
		}
		emit(i, j, "")
		i, prev = j, j
	}
	return out
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
