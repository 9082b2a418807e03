package transparency

import (
	"fmt"

	"github.com/livingprofile/livingprofile/shared/catalog"
)

// SecurityMeasures is the general description of the technical and organisational security
// measures (Art. 30(1)(g), Art. 32) the product takes for every purpose, whatever the tenant.
var SecurityMeasures = catalog.Text{
	"en": "Encryption at rest with AWS KMS keys (database, files, exports); TLS for every connection; " +
		"an append-only consent ledger whose entries are chained by hash per person, so tampering is detectable; " +
		"least-privilege access: each function may use only the actions it needs, API keys are stored as hashes and scoped; " +
		"exports expire; no personal data in logs.",
	"pl": "Szyfrowanie danych w spoczynku kluczami AWS KMS (baza danych, pliki, eksporty); TLS dla każdego połączenia; " +
		"rejestr zgód tylko do dopisywania, którego wpisy są powiązane skrótem kryptograficznym dla każdej osoby, więc manipulacja jest wykrywalna; " +
		"minimalne uprawnienia: każda funkcja może wykonywać tylko potrzebne jej działania, klucze API są przechowywane jako skróty i mają zakresy; " +
		"eksporty wygasają; brak danych osobowych w logach.",
}

var labels = map[string]map[string]string{
	"en": {
		"basis.consent":               "Consent (Art. 6(1)(a) GDPR)",
		"basis.contract":              "Performance of a contract (Art. 6(1)(b) GDPR)",
		"basis.legal_obligation":      "Legal obligation (Art. 6(1)(c) GDPR)",
		"basis.vital_interests":       "Vital interests (Art. 6(1)(d) GDPR)",
		"basis.public_task":           "Public task (Art. 6(1)(e) GDPR)",
		"basis.legitimate_interests":  "Legitimate interests (Art. 6(1)(f) GDPR)",
		"kind.processor":              "processor",
		"kind.controller":             "controller",
		"kind.public_authority":       "public authority",
		"safeguard.adequacy_decision": "adequacy decision (Art. 45 GDPR)",
		"safeguard.sccs":              "standard contractual clauses (Art. 46(2)(c) GDPR)",
		"safeguard.bcrs":              "binding corporate rules (Art. 47 GDPR)",
		"safeguard.derogation":        "derogation for a specific situation (Art. 49 GDPR)",
		"retention.relationship":      "while the customer relationship lasts",
		"retention.days":              "%s days",
		"subjects.customers":          "Customers",
		"none":                        "none",
		"col.controller":              "Controller and DPO (Art. 30(1)(a))",
		"col.purpose":                 "Purpose (Art. 30(1)(b))",
		"col.legalBasis":              "Legal basis",
		"col.subjects":                "Categories of data subjects (Art. 30(1)(c))",
		"col.categories":              "Categories of personal data (Art. 30(1)(c))",
		"col.recipients":              "Recipients (Art. 30(1)(d))",
		"col.transfers":               "Transfers outside the EEA and safeguards (Art. 30(1)(e))",
		"col.retention":               "Retention (Art. 30(1)(f))",
		"col.security":                "Security measures (Art. 30(1)(g))",
		"records.title":               "Records of processing activities (Art. 30 GDPR)",
		"records.version":             "Generated from catalog version %s.",
		"special":                     "special category",
		"dpo":                         "DPO",
	},
	"pl": {
		"basis.consent":               "Zgoda (art. 6 ust. 1 lit. a RODO)",
		"basis.contract":              "Wykonanie umowy (art. 6 ust. 1 lit. b RODO)",
		"basis.legal_obligation":      "Obowiązek prawny (art. 6 ust. 1 lit. c RODO)",
		"basis.vital_interests":       "Żywotne interesy (art. 6 ust. 1 lit. d RODO)",
		"basis.public_task":           "Zadanie realizowane w interesie publicznym (art. 6 ust. 1 lit. e RODO)",
		"basis.legitimate_interests":  "Prawnie uzasadniony interes (art. 6 ust. 1 lit. f RODO)",
		"kind.processor":              "podmiot przetwarzający",
		"kind.controller":             "administrator",
		"kind.public_authority":       "organ publiczny",
		"safeguard.adequacy_decision": "decyzja stwierdzająca odpowiedni stopień ochrony (art. 45 RODO)",
		"safeguard.sccs":              "standardowe klauzule umowne (art. 46 ust. 2 lit. c RODO)",
		"safeguard.bcrs":              "wiążące reguły korporacyjne (art. 47 RODO)",
		"safeguard.derogation":        "wyjątek w szczególnej sytuacji (art. 49 RODO)",
		"retention.relationship":      "przez czas trwania relacji z klientem",
		"retention.days":              "%s dni",
		"subjects.customers":          "Klienci",
		"none":                        "brak",
		"col.controller":              "Administrator i IOD (art. 30 ust. 1 lit. a)",
		"col.purpose":                 "Cel (art. 30 ust. 1 lit. b)",
		"col.legalBasis":              "Podstawa prawna",
		"col.subjects":                "Kategorie osób (art. 30 ust. 1 lit. c)",
		"col.categories":              "Kategorie danych osobowych (art. 30 ust. 1 lit. c)",
		"col.recipients":              "Odbiorcy (art. 30 ust. 1 lit. d)",
		"col.transfers":               "Przekazania poza EOG i zabezpieczenia (art. 30 ust. 1 lit. e)",
		"col.retention":               "Okres przechowywania (art. 30 ust. 1 lit. f)",
		"col.security":                "Środki bezpieczeństwa (art. 30 ust. 1 lit. g)",
		"records.title":               "Rejestr czynności przetwarzania (art. 30 RODO)",
		"records.version":             "Wygenerowano z wersji katalogu %s.",
		"special":                     "szczególna kategoria",
		"dpo":                         "IOD",
	},
}

// Label is the label key in lang, English or Polish (English for any other language), with
// args formatted in.
func Label(lang, key string, args ...any) string {
	m, ok := labels[lang]
	if !ok {
		m = labels["en"]
	}
	s, ok := m[key]
	if !ok {
		s = labels["en"][key]
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}
