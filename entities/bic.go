package entities

import "regexp"

var (
	bicRE    = regexp.MustCompile(`\b[A-Z]{4}([A-Z]{2})[A-Z2-9][A-NP-Z0-9](?:[A-Z0-9]{3})?\b`)
	bicCueRE = regexp.MustCompile(`(?i)\b(?:BIC|SWIFT)\b`)
)

// bicCountries adds the countries outside the IBAN registry whose banks
// invoices most often name.
var bicCountries = wordSet("US", "CA", "AU", "NZ", "JP", "CN", "IN", "SG", "HK", "ZA", "MX", "KR", "TW", "TH", "MY", "ID", "PH", "AR", "CL", "CO")

// findBICs finds SWIFT/BIC codes. Eight or eleven capitals look like many
// other things (headers, product codes), so a code must follow the word BIC
// or SWIFT on its line and name a known country.
func findBICs(text string, _ *Extractor) []span {
	var out []span
	for _, m := range bicRE.FindAllStringSubmatchIndex(text, -1) {
		cc := text[m[2]:m[3]]
		if _, iban := ibanLengths[cc]; !iban && !bicCountries[cc] {
			continue
		}
		if !bicCueRE.MatchString(lineBefore(text, m[0], 30)) {
			continue
		}
		out = append(out, span{start: m[0], end: m[1], value: text[m[0]:m[1]]})
	}
	return out
}
