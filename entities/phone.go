package entities

import (
	"regexp"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// phoneRE finds phone-number candidates: an optional international prefix,
// an optional area code in brackets, then digits with the separators people
// print (spaces, dots, hyphens, slashes, a "(0)" trunk prefix).
var phoneRE = regexp.MustCompile(`(?:\+[ \t]?|\b00[ \t]?)?(?:\(\d{1,5}\)[ \t]?)?\d[\d \t().\-/]{4,22}\d`)

// phoneCueRE are the words that announce a phone number. A number in a
// national format is only read as a phone number after one of them, since
// order, customer and account numbers look the same.
var phoneCueRE = regexp.MustCompile(`(?i)(?:\b(?:tel|telephone|phone|ph|fax|mobile|mob|cell|call|hotline|dial)\b|\b[tfm]\s*:)`)

func findPhones(text string, x *Extractor) []span {
	var out []span
	for _, m := range phoneRE.FindAllStringIndex(text, -1) {
		s, e := m[0], m[1]
		if r := runeBefore(text, s); isAlnum(r) || r == '.' || r == ',' || r == '/' || r == '-' || r == '+' {
			continue
		}
		cand := text[s:e]
		intl := strings.HasPrefix(cand, "+") || strings.HasPrefix(cand, "00")
		if !intl && !phoneCueRE.MatchString(lineBefore(text, s, 40)) {
			continue
		}
		for _, n := range shorterEnds(cand, func(c byte) bool { return strings.IndexByte(" \t.-/(", c) >= 0 }) {
			v, ok := validPhone(cand[:n], intl, x.region)
			if ok && !isAlnum(runeAfter(text, s+n)) {
				out = append(out, span{start: s, end: s + n, value: v})
				break
			}
		}
	}
	return out
}

// validPhone parses a candidate and returns its E.164 form if libphonenumber
// finds it valid for its numbering plan (not merely of a possible length).
func validPhone(cand string, intl bool, region string) (string, bool) {
	digits := 0
	for _, c := range []byte(cand) {
		if c >= '0' && c <= '9' {
			digits++
		}
	}
	if digits < 7 || digits > 17 {
		return "", false
	}
	if strings.Count(cand, "(") != strings.Count(cand, ")") {
		return "", false
	}
	if intl {
		if rest, ok := strings.CutPrefix(cand, "00"); ok {
			cand = "+" + strings.TrimLeft(rest, " \t")
		}
		region = ""
	}
	num, err := phonenumbers.Parse(cand, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", false
	}
	return phonenumbers.Format(num, phonenumbers.E164), true
}
