package entities

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

const monthAlt = `January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec`

var (
	isoDateRE     = regexp.MustCompile(`\b(\d{4})-(\d{2})-(\d{2})\b`)
	numericDateRE = regexp.MustCompile(`\b(\d{1,2})([./-])(\d{1,2})([./-])(\d{4})\b`)
	// 15 March 2024, 15th of March 2024, 15 Mar. 2024
	dayMonthRE = regexp.MustCompile(`(?i)\b(\d{1,2})(?:st|nd|rd|th)?\.?[ \t\x{00A0}]+(?:of[ \t]+)?(` + monthAlt + `)\.?,?[ \t\x{00A0}]+(\d{4})\b`)
	// March 15, 2024, Mar 15th 2024
	monthDayRE = regexp.MustCompile(`(?i)\b(` + monthAlt + `)\.?[ \t\x{00A0}]+(\d{1,2})(?:st|nd|rd|th)?,?[ \t\x{00A0}]+(\d{4})\b`)
)

// validDate returns the ISO form of a calendar date, or false for one that
// does not exist (31/02) or lies outside the years documents talk about.
func validDate(y, m, d int) (string, bool) {
	if y < 1900 || y > 2099 || m < 1 || m > 12 || d < 1 || d > 31 {
		return "", false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d || int(t.Month()) != m {
		return "", false
	}
	return t.Format(time.DateOnly), true
}

func monthNumber(name string) int {
	name = strings.ToLower(name)
	for i, full := range []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"} {
		if strings.HasPrefix(full, name) {
			return i + 1
		}
	}
	return 0
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

func findDates(text string, x *Extractor) []span {
	var out []span
	add := func(s, e int, y, m, d int) {
		if iso, ok := validDate(y, m, d); ok {
			out = append(out, span{start: s, end: e, value: iso})
		}
	}
	for _, m := range isoDateRE.FindAllStringSubmatchIndex(text, -1) {
		// 2024-03-15-0012 is a reference number, not a date.
		if r := runeAfter(text, m[1]); r == '-' || r == '/' {
			continue
		}
		add(m[0], m[1], atoi(text[m[2]:m[3]]), atoi(text[m[4]:m[5]]), atoi(text[m[6]:m[7]]))
	}
	for _, m := range numericDateRE.FindAllStringSubmatchIndex(text, -1) {
		if text[m[4]:m[5]] != text[m[8]:m[9]] {
			continue // 15.03-2024 mixes separators: not a date
		}
		if r := runeBefore(text, m[0]); r == '.' || r == '/' || r == '-' {
			continue // part of a longer dotted or slashed number
		}
		a, b, y := atoi(text[m[2]:m[3]]), atoi(text[m[6]:m[7]]), atoi(text[m[10]:m[11]])
		day, month := a, b
		// A dotted date is always day first; a slashed one is day first
		// unless it cannot be, or the extractor was told to read it the
		// US way.
		if text[m[4]:m[5]] != "." && (b > 12 || x.monthFirst && a <= 12) {
			day, month = b, a
		}
		add(m[0], m[1], y, month, day)
	}
	monthOK := func(name string) bool {
		// "may 3 2024" in running text is rare; a lower-case month name is
		// more often a verb or a typo than a date.
		return unicode.IsUpper([]rune(name)[0])
	}
	for _, m := range dayMonthRE.FindAllStringSubmatchIndex(text, -1) {
		name := text[m[4]:m[5]]
		if !monthOK(name) {
			continue
		}
		add(m[0], m[1], atoi(text[m[6]:m[7]]), monthNumber(name), atoi(text[m[2]:m[3]]))
	}
	for _, m := range monthDayRE.FindAllStringSubmatchIndex(text, -1) {
		name := text[m[2]:m[3]]
		if !monthOK(name) {
			continue
		}
		add(m[0], m[1], atoi(text[m[6]:m[7]]), monthNumber(name), atoi(text[m[4]:m[5]]))
	}
	return out
}
