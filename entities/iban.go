package entities

import (
	"regexp"
	"strings"
)

// ibanLengths is the length of an IBAN per country, from the SWIFT IBAN
// registry. Knowing it lets a printed IBAN ("DE89 3704 … 00 BIC …") end where
// the country says, not where the next word happens to start.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
	"BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
	"DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
	"FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
	"GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
	"IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
	"LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
	"MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
	"PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
	"SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
	"SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
	"YE": 30,
}

// ValidIBAN reports whether s (spaces allowed, letters in upper case) is an
// IBAN of its country's length whose ISO 7064 mod-97 checksum holds.
func ValidIBAN(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) < 5 {
		return false
	}
	n, ok := ibanLengths[s[:2]]
	if !ok || len(s) != n || s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9' {
		return false
	}
	// The check moves the first four characters to the end, reads letters
	// as 10..35 and takes the whole number mod 97, digit by digit so that
	// it never overflows.
	rem := 0
	for _, c := range []byte(s[4:] + s[:4]) {
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A') + 10) % 97
		default:
			return false
		}
	}
	return rem == 1
}

var ibanStartRE = regexp.MustCompile(`[A-Z]{2}[0-9]{2}`)

func findIBANs(text string, _ *Extractor) []span {
	var out []span
	for _, m := range ibanStartRE.FindAllStringIndex(text, -1) {
		s := m[0]
		if isAlnum(runeBefore(text, s)) {
			continue
		}
		want, ok := ibanLengths[text[s:s+2]]
		if !ok {
			continue
		}
		// Collect characters, allowing one space between groups, until the
		// country's length is reached.
		var compact strings.Builder
		e := s
		for e < len(text) && compact.Len() < want {
			c := text[e]
			switch {
			case c >= '0' && c <= '9' || c >= 'A' && c <= 'Z':
				compact.WriteByte(c)
				e++
				continue
			case c == ' ' && e+1 < len(text) && text[e-1] != ' ' && isIBANChar(text[e+1]):
				e++
				continue
			}
			break
		}
		if compact.Len() != want || isAlnum(runeAfter(text, e)) || !ValidIBAN(compact.String()) {
			continue
		}
		out = append(out, span{start: s, end: e, value: compact.String()})
	}
	return out
}

func isIBANChar(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' }
