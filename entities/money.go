package entities

import (
	"regexp"
	"strings"
)

// currencySymbols maps the symbols printed before or after amounts to ISO
// 4217 codes. A bare $ is read as USD and ¥ as JPY: the most frequent
// meanings in invoices, and wrong for Canadian dollars or yuan.
var currencySymbols = map[string]string{
	"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR",
	"CA$": "CAD", "C$": "CAD", "A$": "AUD", "AU$": "AUD", "NZ$": "NZD",
	"HK$": "HKD", "S$": "SGD", "R$": "BRL", "₩": "KRW", "₽": "RUB", "₺": "TRY",
}

// currencyCodes are the ISO 4217 codes recognised next to an amount. The
// list is short on purpose: every three-letter upper-case word next to a
// number would otherwise be a currency.
var currencyCodes = []string{
	"EUR", "USD", "GBP", "CHF", "JPY", "CNY", "CAD", "AUD", "NZD", "SEK", "NOK",
	"DKK", "PLN", "CZK", "HUF", "RON", "BGN", "ISK", "INR", "BRL", "MXN", "ZAR",
	"SGD", "HKD", "KRW", "TRY", "RUB", "AED", "SAR", "ILS", "THB",
}

// zeroDecimal are the currencies without minor units.
var zeroDecimal = map[string]bool{"JPY": true, "KRW": true, "ISK": true}

var moneyRE = func() *regexp.Regexp {
	// Longer symbols first, so that US$ is not read as $.
	syms := []string{`US\$`, `CA\$`, `AU\$`, `NZ\$`, `HK\$`, `C\$`, `A\$`, `S\$`, `R\$`, `\$`, `€`, `£`, `¥`, `₹`, `₩`, `₽`, `₺`}
	cur := strings.Join(syms, "|") + "|" + strings.Join(currencyCodes, "|")
	// Amounts: grouped thousands (1,234 / 1.234 / 1 234 / 1'234) with an
	// optional decimal part, or plain digits with one.
	amt := `\d{1,3}(?:[,.'’ \x{00A0}\x{202F}]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?`
	sp := `[ \x{00A0}\x{202F}]?`
	return regexp.MustCompile(`(?:(?P<pre>` + cur + `)` + sp + `(?P<a1>` + amt + `))|(?:(?P<a2>` + amt + `)` + sp + `(?P<post>` + cur + `))`)
}()

func findMoney(text string, _ *Extractor) []span {
	var out []span
	names := moneyRE.SubexpNames()
	for _, m := range moneyRE.FindAllStringSubmatchIndex(text, -1) {
		var cur, amount string
		var amtEnd int
		for i, n := range names {
			if m[2*i] < 0 {
				continue
			}
			switch n {
			case "pre", "post":
				cur = text[m[2*i]:m[2*i+1]]
			case "a1", "a2":
				amount, amtEnd = text[m[2*i]:m[2*i+1]], m[2*i+1]
			}
		}
		s, e := m[0], m[1]
		// Codes and amounts must stand alone: EURO or 12345 inside a
		// longer number are not money.
		if r := runeBefore(text, s); isAlnum(r) || r == '.' || r == ',' {
			continue
		}
		if r := runeAfter(text, e); isAlnum(r) {
			continue
		}
		// An amount followed by more digits after a separator was cut short
		// by the pattern (1,234,5678): not a well-formed amount.
		if r := runeAfter(text, amtEnd); (r == '.' || r == ',') && isDigitAt(text, amtEnd+1) {
			continue
		}
		code, ok := currencySymbols[cur]
		if !ok {
			code = cur
		}
		v, ok := normalizeAmount(amount, code)
		if !ok {
			continue
		}
		out = append(out, span{start: s, end: e, value: code + " " + v})
	}
	return out
}

func isDigitAt(text string, i int) bool { return i < len(text) && text[i] >= '0' && text[i] <= '9' }

// normalizeAmount reads an amount written with any of the usual grouping and
// decimal separators and returns it with no grouping, a dot as decimal
// separator and the currency's number of minor digits. The last separator is
// decimal when one or two digits follow it; otherwise all are grouping.
func normalizeAmount(a, code string) (string, bool) {
	type part struct {
		sep    string
		digits string
	}
	var parts []part
	sep := ""
	cur := strings.Builder{}
	for _, r := range a {
		if r >= '0' && r <= '9' {
			cur.WriteRune(r)
			continue
		}
		parts = append(parts, part{sep, cur.String()})
		cur.Reset()
		sep = string(r)
	}
	parts = append(parts, part{sep, cur.String()})

	intPart, frac := "", ""
	last := parts[len(parts)-1]
	if len(parts) > 1 && len(last.digits) <= 2 {
		if last.sep != "." && last.sep != "," {
			return "", false
		}
		frac = last.digits
		parts = parts[:len(parts)-1]
	}
	// Grouping separators must agree with each other and differ from the
	// decimal one, and groups after the first have three digits.
	for i, p := range parts {
		if i > 0 {
			if len(p.digits) != 3 || p.sep != parts[1].sep || frac != "" && p.sep == last.sep {
				return "", false
			}
		}
		intPart += p.digits
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	minor := 2
	if zeroDecimal[code] {
		minor = 0
	}
	for len(frac) < minor {
		frac += "0"
	}
	if frac == "" {
		return intPart, true
	}
	return intPart + "." + frac, true
}
