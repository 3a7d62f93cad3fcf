package llm

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Extractive summarises text without a model, by picking its most
// representative sentences: the text is split into sentences, each word
// that is not a stop word scores its frequency in the text divided by the
// highest frequency, a sentence scores the sum of its words' scores divided
// by the square root of their number (so that neither long sentences nor
// one-word headers win by length alone), and the best sentences that fit in
// maxWords words are returned in the order
// of the text, whitespace collapsed. Lines that are not sentences (headers,
// addresses, signatures: fewer than four words or no final punctuation) are
// only picked from texts without sentences. If even the best sentence is longer
// than maxWords, its first maxWords words are returned; maxWords below 1
// allows no words and gives an empty summary. The whole text is read, so
// the summary is never Truncated. The result depends only on the text and
// maxWords.
func Extractive(text string, maxWords int) Summary {
	if maxWords < 1 {
		return Summary{Method: MethodExtractive}
	}
	sents := splitSentences(text)
	if len(sents) == 0 {
		return Summary{Method: MethodExtractive}
	}

	freq := map[string]int{}
	words := make([][]string, len(sents))
	for i, s := range sents {
		words[i] = contentWords(s)
		for _, w := range words[i] {
			freq[w]++
		}
	}
	top := 0
	for _, f := range freq {
		top = max(top, f)
	}
	type ranked struct {
		i     int
		score float64
	}
	order := make([]ranked, len(sents))
	for i, ws := range words {
		sum := 0.0
		for _, w := range ws {
			sum += float64(freq[w]) / float64(top)
		}
		score := 0.0
		if len(ws) > 0 {
			score = sum / math.Sqrt(float64(len(ws)))
		}
		order[i] = ranked{i, score}
	}
	slices.SortStableFunc(order, func(a, b ranked) int { return cmp.Compare(b.score, a.score) })

	// Real sentences make a summary; headers, addresses, salutations and
	// signatures only when the text has nothing else (a form).
	candidate := make([]bool, len(sents))
	hasSentences := false
	for i, s := range sents {
		last, _ := utf8.DecodeLastRuneInString(s)
		candidate[i] = len(strings.Fields(s)) >= 4 && strings.ContainsRune(".!?", last)
		hasSentences = hasSentences || candidate[i]
	}
	left := maxWords
	chosen := make([]bool, len(sents))
	seen := map[string]bool{}
	for _, r := range order {
		n := len(strings.Fields(sents[r.i]))
		// Headers and footers repeat on every page; one copy is enough.
		if n > left || seen[sents[r.i]] || hasSentences && !candidate[r.i] {
			continue
		}
		chosen[r.i], seen[sents[r.i]] = true, true
		left -= n
	}
	var out []string
	for i, s := range sents {
		if chosen[i] {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		best := order[0].i
		for _, r := range order {
			if !hasSentences || candidate[r.i] {
				best = r.i
				break
			}
		}
		out = []string{limitWords(sents[best], maxWords)}
	}
	return Summary{Text: strings.Join(out, " "), Method: MethodExtractive}
}

// splitSentences splits text into sentences with collapsed whitespace. A
// line break ends a sentence when the line ends with punctuation, is short
// (a header or a field of a form) or the next line starts a list item;
// otherwise the line is a wrapped part of a paragraph.
func splitSentences(text string) []string {
	var blocks []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			blocks = append(blocks, strings.Join(cur, " "))
			cur = nil
		}
	}
	lines := strings.Split(text, "\n")
	for i, raw := range lines {
		line := strings.Join(strings.Fields(raw), " ")
		if line == "" {
			flush()
			continue
		}
		cur = append(cur, line)
		next := ""
		if i+1 < len(lines) {
			next = strings.TrimSpace(lines[i+1])
		}
		last, _ := utf8.DecodeLastRuneInString(line)
		if strings.ContainsRune(".!?:;", last) || utf8.RuneCountInString(line) < 40 || startsItem(next) {
			flush()
		}
	}
	flush()

	var out []string
	for _, b := range blocks {
		out = append(out, splitBlock(b)...)
	}
	return out
}

// startsItem reports whether a line starts a bullet or numbered item.
func startsItem(line string) bool {
	if line == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(line)
	return strings.ContainsRune("-*•–", r) || unicode.IsDigit(r) && strings.ContainsAny(line[:min(len(line), 4)], ".)")
}

// abbreviations end with a dot without ending a sentence.
var abbreviations = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "dr": true, "prof": true, "st": true, "jr": true, "sr": true,
	"inc": true, "ltd": true, "co": true, "corp": true, "no": true, "nr": true, "vs": true, "etc": true,
	"e.g": true, "i.e": true, "approx": true, "incl": true, "excl": true, "fig": true, "art": true,
	"ref": true, "tel": true, "p.a": true, "jan": true, "feb": true, "mar": true, "apr": true,
	"jun": true, "jul": true, "aug": true, "sep": true, "sept": true, "oct": true, "nov": true, "dec": true,
}

// splitBlock splits a block at sentence-ending punctuation followed by a
// space and a capital letter, digit or quote, unless the dot ends an
// abbreviation or an initial.
func splitBlock(b string) []string {
	var out []string
	start := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '.' && c != '!' && c != '?' {
			continue
		}
		j := i + 1
		for j < len(b) && strings.IndexByte(".!?\"')]", b[j]) >= 0 {
			j++
		}
		if j >= len(b) || b[j] != ' ' {
			continue
		}
		next, _ := utf8.DecodeRuneInString(b[j+1:])
		if !unicode.IsUpper(next) && !unicode.IsDigit(next) && !strings.ContainsRune("\"'“‘(", next) {
			continue
		}
		if c == '.' {
			w := b[start:i]
			if k := strings.LastIndexByte(w, ' '); k >= 0 {
				w = w[k+1:]
			}
			w = strings.ToLower(strings.TrimLeft(w, "(\"'"))
			if abbreviations[w] || utf8.RuneCountInString(w) == 1 {
				continue
			}
		}
		out = append(out, strings.TrimSpace(b[start:j]))
		start = j + 1
		i = j
	}
	if rest := strings.TrimSpace(b[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}

// contentWords returns the lower-cased words of s that carry meaning: not
// stop words, not numbers, at least two letters.
func contentWords(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' }) {
		w = strings.Trim(w, "'")
		if utf8.RuneCountInString(w) < 2 || stopWords[w] || strings.IndexFunc(w, unicode.IsLetter) < 0 {
			continue
		}
		out = append(out, w)
	}
	return out
}

// stopWords are English function words, which are frequent in every text
// and say nothing about this one.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a about above after again against all also am an and any are aren't as at
		be because been before being below between both but by can cannot could couldn't did didn't do does
		doesn't doing don't down during each few for from further had hadn't has hasn't have haven't having
		he he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in
		into is isn't it it's its itself let's me more most mustn't my myself no nor not of off on once only
		or other ought our ours ourselves out over own same shan't she she'd she'll she's should shouldn't so
		some such than that that's the their theirs them themselves then there there's these they they'd
		they'll they're they've this those through to too under until up very was wasn't we we'd we'll we're
		we've were weren't what what's when when's where where's which while who who's whom why why's will
		with won't would wouldn't you you'd you'll you're you've your yours yourself yourselves may might must
		shall us per via within without upon just also however therefore thus yet still please dear kind
		regards sincerely thank thanks`) {
		m[w] = true
	}
	return m
}()
