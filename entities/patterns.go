package entities

import (
	"cmp"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// finder finds the structured entities of one label in a text.
type finder func(text string, x *Extractor) []span

// finders in order of precedence: where two structured candidates overlap,
// the earlier label wins (an IBAN's digits are not a phone number, a URL's
// date is part of the URL).
var finders = []struct {
	label string
	find  finder
}{
	{LabelIBAN, findIBANs},
	{LabelBIC, findBICs},
	{LabelEmail, findEmails},
	{LabelURL, findURLs},
	{LabelVATID, findVATIDs},
	{LabelDate, findDates},
	{LabelMoney, findMoney},
	{LabelPhone, findPhones},
	{LabelPercent, findPercents},
}

// findPatterns runs every finder; its result may overlap (see resolve).
func findPatterns(text string, x *Extractor) []span {
	var all []span
	for _, f := range finders {
		for _, s := range f.find(text, x) {
			s.label, s.source = f.label, SourcePattern
			all = append(all, s)
		}
	}
	return all
}

// precedence is a label's rank among the finders: lower wins.
func precedence(label string) int {
	for i, f := range finders {
		if f.label == label {
			return i
		}
	}
	return len(finders)
}

// resolve drops structured candidates that overlap a better one: one of a
// label with higher precedence, or a longer one of the same label.
func resolve(spans []span) []span {
	slices.SortStableFunc(spans, func(a, b span) int {
		return cmp.Or(
			cmp.Compare(precedence(a.label), precedence(b.label)),
			cmp.Compare(b.end-b.start, a.end-a.start),
			cmp.Compare(a.start, b.start),
		)
	})
	var kept []span
	var taken intervals
	for _, s := range spans {
		if taken.add(s.start, s.end) {
			kept = append(kept, s)
		}
	}
	return kept
}

// runeBefore and runeAfter return the rune adjacent to a byte offset, or 0
// at the ends of the text.
func runeBefore(text string, i int) rune {
	if i <= 0 {
		return 0
	}
	r, _ := utf8.DecodeLastRuneInString(text[:i])
	return r
}

func runeAfter(text string, i int) rune {
	if i >= len(text) {
		return 0
	}
	r, _ := utf8.DecodeRuneInString(text[i:])
	return r
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// wordBoundary reports whether text[s:e] is not glued to letters or digits.
func wordBoundary(text string, s, e int) bool {
	return !isAlnum(runeBefore(text, s)) && !isAlnum(runeAfter(text, e))
}

// lineBefore returns up to n bytes of text before offset i on the same line,
// where the cue words of phone and VAT numbers are looked for.
func lineBefore(text string, i, n int) string {
	from := max(0, i-n)
	for from < i && !utf8.RuneStart(text[from]) {
		from++
	}
	before := text[from:i]
	if nl := strings.LastIndexByte(before, '\n'); nl >= 0 {
		before = before[nl+1:]
	}
	return before
}

// shorterEnds lists the candidate lengths to try for a match that may have
// run on into the next token: the whole match, then every prefix ending just
// before a separator, longest first. Printed numbers are grouped with spaces,
// so a greedy pattern cannot tell a last group from the next number.
func shorterEnds(m string, isSep func(byte) bool) []int {
	ends := []int{len(m)}
	for i := len(m) - 1; i > 0; i-- {
		if isSep(m[i]) && !isSep(m[i-1]) {
			ends = append(ends, i)
		}
	}
	return ends
}

// --- e-mail ---

var emailRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)

func findEmails(text string, _ *Extractor) []span {
	var out []span
	for _, m := range emailRE.FindAllStringIndex(text, -1) {
		s, e := m[0], m[1]
		if r := runeAfter(text, e); isAlnum(r) || r == '@' {
			continue
		}
		addr := text[s:e]
		at := strings.LastIndexByte(addr, '@')
		local, domain := addr[:at], addr[at+1:]
		if len(local) > 64 || strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
			continue
		}
		if !validHost(domain) {
			continue
		}
		// net/mail applies RFC 5322 to what the pattern let through.
		if _, err := mail.ParseAddress(addr); err != nil {
			continue
		}
		out = append(out, span{start: s, end: e, value: strings.ToLower(addr)})
	}
	return out
}

// validHost reports whether h is a DNS name with at least two labels, each of
// letters, digits and inner hyphens, and an alphabetic top-level domain.
func validHost(h string) bool {
	if len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 {
		return false
	}
	for _, c := range []byte(tld) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// --- URL ---

var urlRE = regexp.MustCompile("(?i)(?:https?://|www\\.)[^\\s<>\"'`{}|\\\\^\\[\\]]+")

func findURLs(text string, _ *Extractor) []span {
	var out []span
	for _, m := range urlRE.FindAllStringIndex(text, -1) {
		s, e := m[0], m[1]
		if r := runeBefore(text, s); isAlnum(r) || r == '@' || r == '.' || r == '/' {
			continue
		}
		// Sentence punctuation and an unbalanced closing bracket belong to
		// the prose around the URL, not to the URL.
		for e > s {
			last := text[e-1]
			if strings.IndexByte(".,;:!?*", last) >= 0 {
				e--
				continue
			}
			if last == ')' && strings.Count(text[s:e], "(") < strings.Count(text[s:e], ")") {
				e--
				continue
			}
			break
		}
		raw := text[s:e]
		full := raw
		if !strings.Contains(strings.ToLower(raw[:min(len(raw), 8)]), "://") {
			full = "https://" + raw
		}
		u, err := url.Parse(full)
		if err != nil || u.Host == "" || u.User != nil {
			continue
		}
		host := u.Hostname()
		// www.example is a host name but not an address anyone prints;
		// after www. there must be a name and a top-level domain.
		if !validHost(host) || strings.HasPrefix(strings.ToLower(host), "www.") && strings.Count(host, ".") < 2 {
			continue
		}
		u.Scheme = strings.ToLower(u.Scheme)
		u.Host = strings.ToLower(u.Host)
		out = append(out, span{start: s, end: e, value: u.String()})
	}
	return out
}

// --- percent ---

var percentRE = regexp.MustCompile(`\d+(?:[.,]\d+)?[ \x{00A0}]?%`)

func findPercents(text string, _ *Extractor) []span {
	var out []span
	for _, m := range percentRE.FindAllStringIndex(text, -1) {
		s, e := m[0], m[1]
		if r := runeBefore(text, s); isAlnum(r) || r == '.' || r == ',' {
			continue
		}
		num := strings.TrimRight(text[s:e], " \u00a0%")
		out = append(out, span{start: s, end: e, value: strings.Replace(num, ",", ".", 1) + "%"})
	}
	return out
}
