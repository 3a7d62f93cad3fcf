package entities

import (
	"regexp"
	"strings"
)

// vatFormats are the VIES formats of VAT numbers after the country prefix
// (Greece uses EL, Northern Ireland XI, Switzerland's UID CHE).
var vatFormats = map[string]*regexp.Regexp{}

func init() {
	for cc, f := range map[string]string{
		"AT": `U\d{8}`, "BE": `[01]\d{9}`, "BG": `\d{9,10}`, "CY": `\d{8}[A-Z]`,
		"CZ": `\d{8,10}`, "DE": `\d{9}`, "DK": `\d{8}`, "EE": `\d{9}`, "EL": `\d{9}`,
		"ES": `[A-Z0-9]\d{7}[A-Z0-9]`, "FI": `\d{8}`, "FR": `[0-9A-HJ-NP-Z]{2}\d{9}`,
		"HR": `\d{11}`, "HU": `\d{8}`, "IE": `\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]`,
		"IT": `\d{11}`, "LT": `\d{9}|\d{12}`, "LU": `\d{8}`, "LV": `\d{11}`, "MT": `\d{8}`,
		"NL": `\d{9}B\d{2}`, "PL": `\d{10}`, "PT": `\d{9}`, "RO": `[1-9]\d{1,9}`,
		"SE": `\d{10}01`, "SI": `\d{8}`, "SK": `\d{10}`,
		"GB": `\d{9}|\d{12}|GD[0-4]\d{2}|HA[5-9]\d{2}`, "XI": `\d{9}|\d{12}|GD[0-4]\d{2}|HA[5-9]\d{2}`,
		"CHE": `\d{9}`,
	} {
		vatFormats[cc] = regexp.MustCompile(`^(?:` + f + `)$`)
	}
}

// vatChecks are the countries whose check digits are verified. A number from
// one of them that fails is rejected; one that passes needs no cue word.
var vatChecks = map[string]func(string) bool{
	"AT": vatCheckAT, "BE": vatCheckBE, "DE": vatCheckDE, "FR": vatCheckFR,
	"GB": vatCheckGB, "XI": vatCheckGB, "IT": vatCheckIT, "CHE": vatCheckCHE,
}

// vatDistinct are formats unlikely to be anything else, accepted without a
// cue word although they have no check digits here.
var vatDistinct = map[string]bool{"NL": true}

var (
	vatSeparators = strings.NewReplacer(" ", "", ".", "", "-", "")
	vatStartRE    = regexp.MustCompile(`\b(?:CHE|ATU|[A-Z]{2})[ \-]?[0-9]`)
	vatCueRE      = regexp.MustCompile(`(?i)\b(?:VAT|USt|UID|TVA|IVA|BTW|MwSt|MWST|Moms|ALV|NIP|NIF|CIF|DPH|DDV|PVN|PVM|KMKR|ÁFA|tax)`)
)

func findVATIDs(text string, _ *Extractor) []span {
	var out []span
	for _, m := range vatStartRE.FindAllStringIndex(text, -1) {
		s := m[0]
		cc := text[s : s+2]
		if strings.HasPrefix(text[s:], "CHE") {
			cc = "CHE"
		}
		if _, ok := vatFormats[cc]; !ok {
			continue
		}
		// The number runs over digits and upper-case letters, with the
		// spaces, dots and hyphens some countries print between groups.
		e := s + len(cc)
		for e < len(text) {
			c := text[e]
			if isIBANChar(c) || c == '+' || c == '*' {
				e++
				continue
			}
			if (c == ' ' || c == '.' || c == '-') && e+1 < len(text) && isIBANChar(text[e+1]) && !(e > 0 && (text[e-1] == ' ' || text[e-1] == '.' || text[e-1] == '-')) {
				e++
				continue
			}
			break
		}
		cand := text[s:e]
		cued := vatCueRE.MatchString(lineBefore(text, s, 40))
		for _, n := range shorterEnds(cand, func(c byte) bool { return c == ' ' || c == '.' || c == '-' }) {
			if isAlnum(runeAfter(text, s+n)) {
				continue
			}
			compact := vatSeparators.Replace(cand[:n])
			if len(compact) <= len(cc) {
				continue
			}
			body := compact[len(cc):]
			if !vatFormats[cc].MatchString(body) {
				continue
			}
			ok := cued || vatDistinct[cc]
			if check, has := vatChecks[cc]; has {
				ok = check(body)
			}
			if ok {
				out = append(out, span{start: s, end: s + n, value: compact})
			}
			break
		}
	}
	return out
}

func digitsOf(s string) []int {
	d := make([]int, 0, len(s))
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return nil
		}
		d = append(d, int(c-'0'))
	}
	return d
}

// vatCheckDE is ISO 7064 MOD 11,10 over the first eight digits.
func vatCheckDE(b string) bool {
	d := digitsOf(b)
	if len(d) != 9 {
		return false
	}
	p := 10
	for _, x := range d[:8] {
		s := (x + p) % 10
		if s == 0 {
			s = 10
		}
		p = (2 * s) % 11
	}
	c := 11 - p
	if c == 10 {
		c = 0
	}
	return c == d[8]
}

// vatCheckAT checks U + 8 digits with the Austrian weighted digit sum.
func vatCheckAT(b string) bool {
	d := digitsOf(strings.TrimPrefix(b, "U"))
	if len(d) != 8 {
		return false
	}
	sum := 0
	for i, x := range d[:7] {
		if i%2 == 1 {
			x *= 2
			x = x/10 + x%10
		}
		sum += x
	}
	return (10-(sum+4)%10)%10 == d[7]
}

// vatCheckBE: the last two digits are 97 minus the first eight mod 97.
func vatCheckBE(b string) bool {
	d := digitsOf(b)
	if len(d) != 10 {
		return false
	}
	n := 0
	for _, x := range d[:8] {
		n = n*10 + x
	}
	return 97-n%97 == d[8]*10+d[9]
}

// vatCheckFR: a numeric key is (12 + 3 × (SIREN mod 97)) mod 97. Newer
// alphabetic keys have no published check and are accepted by format.
func vatCheckFR(b string) bool {
	key, siren := digitsOf(b[:2]), digitsOf(b[2:])
	if len(siren) != 9 {
		return false
	}
	if key == nil {
		return true
	}
	n := 0
	for _, x := range siren {
		n = n*10 + x
	}
	return (12+3*(n%97))%97 == key[0]*10+key[1]
}

// vatCheckIT is the Luhn check over eleven digits.
func vatCheckIT(b string) bool {
	d := digitsOf(b)
	if len(d) != 11 {
		return false
	}
	sum := 0
	for i, x := range d {
		if i%2 == 1 {
			x *= 2
			if x > 9 {
				x -= 9
			}
		}
		sum += x
	}
	return sum%10 == 0
}

// vatCheckGB checks the 9 digits of a standard number (the 12-digit branch
// form checks its first nine) by HMRC's weighted sum, in the old (mod 97)
// and the 2010 (+55) series. Government and health numbers have no check.
func vatCheckGB(b string) bool {
	if strings.HasPrefix(b, "GD") || strings.HasPrefix(b, "HA") {
		return true
	}
	d := digitsOf(b)
	if len(d) != 9 && len(d) != 12 {
		return false
	}
	sum := 0
	for i, w := range []int{8, 7, 6, 5, 4, 3, 2} {
		sum += d[i] * w
	}
	sum += d[7]*10 + d[8]
	return sum%97 == 0 || (sum+55)%97 == 0
}

// vatCheckCHE checks the Swiss UID's mod-11 check digit.
func vatCheckCHE(b string) bool {
	d := digitsOf(b)
	if len(d) != 9 {
		return false
	}
	sum := 0
	for i, w := range []int{5, 4, 3, 2, 7, 6, 5, 4} {
		sum += d[i] * w
	}
	c := 11 - sum%11
	if c == 11 {
		c = 0
	}
	return c != 10 && c == d[8]
}
