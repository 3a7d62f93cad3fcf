package entities

import (
	"strings"
	"unicode"
)

// The word lists below are the post-filters of the model's output. The
// model (prose's maxent NER, trained on news) labels almost every
// capitalised word; in invoices and letters many capitalised words are
// sentence starts ("Please", "Total"), field names ("Date", "IBAN"), titles
// and job titles ("Mr.", "Finance Director") or months. Each list is a
// category of such words rather than the exact words seen in the labelled
// set, so that it carries over to documents not in it.

func wordSet(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// stopWords are never part of a name at its edges (compared lower-case,
// without a trailing dot).
var stopWords = wordSet(
	// function words and sentence openers
	"a", "an", "the", "this", "that", "these", "those", "our", "your", "their", "his", "her", "my",
	"we", "you", "they", "it", "i", "he", "she", "and", "or", "but", "if", "as", "at", "by", "for",
	"in", "of", "on", "to", "with", "from", "per", "via", "please", "kindly", "note", "not", "no",
	"yes", "all", "any", "each", "every", "some", "there", "here", "when", "where", "while", "after",
	"before", "since", "until", "also", "however", "therefore", "thus", "further", "furthermore",
	"unfortunately", "accordingly", "regarding", "re", "ps", "nb", "hello", "hi", "dear", "regards",
	"kind", "best", "warm", "sincerely", "yours", "faithfully", "thanks", "thank", "cheers", "attn",
	"attention", "subject", "cc", "bcc", "sent", "next", "previous", "following",
	"above", "below", "enclosed", "attached", "signed", "approved", "confirmed", "received",
	// document vocabulary: field names and headings
	"invoice", "invoices", "receipt", "statement", "quote", "quotation", "order", "orders", "delivery",
	"shipping", "ship", "shipment", "bill", "billing", "total", "subtotal", "sum", "amount", "balance",
	"due", "payment", "payments", "paid", "pay", "remit", "remittance", "transfer", "reminder",
	"notice", "final", "first", "second", "third", "last", "date", "dated", "number", "nr", "ref",
	"reference", "account", "customer", "client", "supplier", "vendor", "item", "items", "qty",
	"quantity", "unit", "units", "price", "description", "discount", "tax", "vat", "net", "gross",
	"iban", "bic", "swift", "sort", "code", "page", "tel", "telephone", "phone", "fax", "mobile",
	"email", "e-mail", "mail", "web", "website", "contact", "address", "visit", "call", "see",
	"terms", "conditions", "details", "summary", "copy", "original", "pending", "overdue",
	"outstanding", "urgent", "important", "confidential", "credit", "debit", "id", "uid", "inc",
	"memo", "letter", "contract", "agreement", "report", "office", "head", "hotline", "helpdesk",
	"support", "service", "help", "info", "information", "period", "from", "to", "bill", "sold",
	"deliver", "consignee", "recipient", "sender", "beneficiary", "payee", "payer", "remarks",
	"comments", "notes", "signature", "stamp", "registered", "registration", "company", "vat-id",
	// the same field names in German, French and Dutch letterheads
	"ust-idnr", "ust-id", "steuernummer", "sitz", "datum", "rechnung", "rechnungsnummer", "betrag",
	"summe", "gesamt", "kunde", "kundennummer", "bankverbindung", "geschäftsführer", "facture",
	"montant", "siège", "siret", "factuur", "bedrag", "btw-nummer", "kvk", "mwst", "ust", "tva",
	"iva", "btw", "moms",
	// job titles and departments
	"director", "manager", "ceo", "cfo", "coo", "cto", "president", "vice", "chief", "officer",
	"accountant", "accounts", "payable", "receivable", "finance", "financial", "sales",
	"purchasing", "procurement", "department", "team", "assistant", "secretary", "clerk",
	"controller", "treasurer", "chairman", "founder", "owner", "representative",
	// nationalities and languages, which are not places
	"american", "british", "english", "german", "french", "italian", "spanish", "swiss", "dutch",
	"european", "austrian", "belgian", "irish", "scottish", "canadian", "chinese", "japanese",
	"indian", "polish", "swedish", "danish", "norwegian",
	// months and weekdays
	"january", "february", "march", "april", "may", "june", "july", "august", "september",
	"october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
	"sept", "oct", "nov", "dec", "monday", "tuesday", "wednesday", "thursday", "friday",
	"saturday", "sunday", "mon", "tue", "wed", "thu", "fri", "sat", "sun",
	// currency codes and symbols
	"eur", "usd", "gbp", "chf", "jpy", "euro", "euros", "dollar", "dollars", "pound", "pounds",
)

// titles announce a person's name and are not part of it.
var titles = wordSet("mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "herr", "frau", "mme", "mlle", "rev")

// orgSuffixes end an organisation's name; a name ending in one is an ORG.
var orgSuffixes = wordSet(
	"ltd", "limited", "inc", "incorporated", "corp", "corporation", "co", "company", "llc", "llp",
	"lp", "plc", "gmbh", "ag", "kg", "ohg", "ug", "sa", "s.a", "sas", "sarl", "s.a.r.l", "spa",
	"s.p.a", "srl", "s.r.l", "bv", "b.v", "nv", "n.v", "ab", "oy", "pty", "group", "holding",
	"holdings", "industries", "enterprises", "partners", "associates", "traders", "trading",
	"solutions", "systems", "technologies", "services", "consulting", "logistics", "foundation",
	"bank", "airlines", "motors", "insurance", "capital", "ventures", "investments", "shipping",
)

// orgWords make a name an organisation wherever they appear in it.
var orgWords = wordSet("bank", "university", "ministry", "institute", "agency", "council", "authority", "association", "society", "corporation", "committee", "commission")

// abbreviations are organisation suffixes written with a dot, which the
// model's tokenizer splits off and which belongs to the name.
var abbreviations = wordSet("inc", "corp", "ltd", "co", "bros", "plc")

// placeAcronyms are capitalised abbreviations of places, the exceptions to
// the rule that an acronym names an organisation.
var placeAcronyms = wordSet("uk", "us", "usa", "eu", "uae", "nyc", "la", "dc", "gb")

// addressWords end street names, which are addresses rather than places.
var addressWords = wordSet("street", "st", "road", "rd", "avenue", "ave", "lane", "ln", "boulevard", "blvd", "drive", "square", "strasse", "straße", "str", "platz", "weg", "allee", "rue", "highway", "terrace", "crescent", "plaza")

func norm(w string) string { return strings.TrimSuffix(strings.ToLower(w), ".") }

func isStopToken(w string) bool {
	n := norm(w)
	if n == "" || isTitle(w) || stopWords[n] {
		return true
	}
	// Punctuation, numbers and codes with digits in them are not names.
	letters := false
	for _, r := range n {
		if unicode.IsDigit(r) {
			return true
		}
		letters = letters || unicode.IsLetter(r)
	}
	return !letters
}

func isTitle(w string) bool     { return titles[norm(w)] }
func isOrgSuffix(w string) bool { return orgSuffixes[norm(w)] }

// isOrgWord also takes compounds ending in "bank" (Commerzbank, CaixaBank).
func isOrgWord(w string) bool {
	n := norm(w)
	return orgWords[n] || len(n) > 6 && strings.HasSuffix(n, "bank")
}
func isAddressWord(w string) bool {
	return addressWords[norm(w)]
}

// isAcronym reports whether w is two to five capitals (IBM, KPMG, HSBC).
func isAcronym(w string) bool {
	if len(w) < 2 || len(w) > 5 || placeAcronyms[strings.ToLower(w)] {
		return false
	}
	for _, c := range []byte(w) {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// capitalised reports whether a word starts with an upper-case letter.
func capitalised(w string) bool {
	for _, r := range w {
		return unicode.IsUpper(r)
	}
	return false
}

// allCaps reports whether s has letters and all of them are upper case.
func allCaps(s string) bool {
	letters := false
	for _, r := range s {
		if unicode.IsLetter(r) {
			letters = true
			if !unicode.IsUpper(r) {
				return false
			}
		}
	}
	return letters
}
