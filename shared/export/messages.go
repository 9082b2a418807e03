package export

import (
	"fmt"
	"strings"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/ledger"
)

// messages are the texts of index.html in one language.
type messages struct {
	Lang         string
	Title        string // "Your data held by %s"
	Intro        string
	Generated    string
	RequestLabel string
	ProfileLabel string
	FilesTitle   string
	FilesIntro   string
	FileDescr    map[string]string

	IdentitiesTitle, AttributesTitle, ConsentsTitle, SubscriptionsTitle, RightsTitle, RequestsTitle string
	Type, Value, Name, UpdatedAt, Purpose, Status, LegalBasis, NoticeVersion, ExpiresAt, Source     string
	Topic, Channels, Frequency, Received, Due, Completed, Verification, Description, Retention      string
	Notes, Recipient, Host, Events, First, Last, Seq, At, Event, Subject, Actor, None, Yes, No      string

	Restricted, AutomatedOptOut, Objections string

	// AddedBy and AddedAt head an identity's source and time; NotRecorded stands for a
	// source or time from before the service recorded them.
	AddedBy, AddedAt, NotRecorded string

	// DataCategory heads a value's data category, SpecialCategory marks an Art. 9 or 10 one.
	DataCategory, SpecialCategory string

	Art15Title, Art15Intro                                 string
	PurposesTitle, CategoriesTitle, RecipientsTitle        string
	RecipientsIntro, NoRecipients                          string
	SourcesTitle, SourcesIntro                             string
	AutomatedTitle, AutomatedIntro, NoAutomated            string
	YourRightsTitle, ComplaintTitle, Complaint             string
	DirectMarketing, AutomatedDecision                     string
	LedgerTitle, LedgerIntro, LedgerVerified, LedgerBroken string

	RetentionDays, RetentionRelationship string // "%d days"

	Bases      map[catalog.LegalBasis]string
	Statuses   map[string]string // consent, subscription and request statuses
	Types      map[string]string // request types
	IDTypes    map[string]string // identity types
	StdAttrs   map[string]string // standard attribute labels
	Categories map[string]string
	Rights     []string // human texts of rightCodes, same order
	Actors     map[string]string
}

func messagesFor(locale string) *messages {
	if base, _, _ := strings.Cut(locale, "-"); base == "pl" {
		return &pl
	}
	return &en
}

// label returns m[k], or k when there is no text for it.
func label(m map[string]string, k string) string {
	if s, ok := m[k]; ok {
		return s
	}
	return k
}

func (m *messages) retention(days int) string {
	if days == 0 {
		return m.RetentionRelationship
	}
	return fmt.Sprintf(m.RetentionDays, days)
}

// actor describes a source of data for people.
func (m *messages) actor(s Source, controller string) string {
	tmpl, ok := m.Actors[s.Kind]
	if !ok {
		return s.Kind + " " + s.ID
	}
	name := s.Name
	if name == "" {
		name = s.ID
	}
	switch s.Kind {
	case ledger.ActorAPIKey:
		return fmt.Sprintf(tmpl, controller, name)
	case ledger.ActorSync:
		return fmt.Sprintf(tmpl, name)
	case ledger.ActorOperator:
		return fmt.Sprintf(tmpl, controller)
	}
	return tmpl
}

var en = messages{
	Lang:         "en",
	Title:        "Your personal data held by %s",
	Intro:        "This is a copy of all personal data we hold about you, with the information Article 15 of the General Data Protection Regulation (GDPR) entitles you to.",
	Generated:    "Generated",
	RequestLabel: "Request",
	ProfileLabel: "Your profile id",
	FilesTitle:   "Files in this download",
	FilesIntro:   "The same data is in machine-readable form in the other files of this download, which you can import into another service (Art. 20 GDPR).",
	FileDescr: map[string]string{
		FileJSON:          "Everything in one JSON document (its format is published as a JSON Schema).",
		FileIdentities:    "Your identifiers: email addresses, phone numbers, customer numbers.",
		FileAttributes:    "Your profile details.",
		FileConsents:      "Your consents, per purpose.",
		FileSubscriptions: "Your subscriptions, per topic.",
		FileLedger:        "The full history of changes to your data (the consent ledger).",
		FileRequests:      "Your data protection requests.",
		FileHTML:          "This page.",
	},
	IdentitiesTitle: "Your identifiers", AttributesTitle: "Your profile details", ConsentsTitle: "Your consents",
	SubscriptionsTitle: "Your subscriptions", RightsTitle: "Restrictions and objections", RequestsTitle: "Your requests",
	Type: "Type", Value: "Value", Name: "Name", UpdatedAt: "Last changed", Purpose: "Purpose", Status: "Status",
	LegalBasis: "Legal basis", NoticeVersion: "Notice version", ExpiresAt: "Expires", Source: "Changed by",
	AddedBy: "Added by", AddedAt: "Added", NotRecorded: "Not recorded",
	DataCategory: "Data category", SpecialCategory: "special category",
	Topic: "Topic", Channels: "Channels", Frequency: "Frequency", Received: "Received", Due: "Due", Completed: "Completed",
	Verification: "Identity verification", Description: "Description", Retention: "Retention", Notes: "Notes",
	Recipient: "Recipient", Host: "System address", Events: "Changes", First: "First", Last: "Last", Seq: "No.",
	At: "When", Event: "Change", Subject: "Of", Actor: "By", None: "None.", Yes: "Yes", No: "No",
	Restricted:      "Processing restricted (Art. 18)",
	AutomatedOptOut: "Opted out of automated decisions (Art. 22)",
	Objections:      "Objections (Art. 21)",
	Art15Title:      "Information about the processing (Art. 15 GDPR)",
	Art15Intro:      "Why we process your data, on what legal basis, for how long, who receives it and where it comes from.",
	PurposesTitle:   "Purposes, legal bases and retention",
	CategoriesTitle: "Categories of data",
	RecipientsTitle: "Recipients",
	RecipientsIntro: "Your data is passed to these systems of ours and of our processors:",
	NoRecipients:    "Your data is not passed to any other system.",
	SourcesTitle:    "Sources of your data",
	SourcesIntro:    "Who recorded or changed your data, according to the history of changes:",
	AutomatedTitle:  "Automated decision-making and profiling",
	AutomatedIntro:  "These purposes involve automated decisions or profiling (Art. 22); you can opt out of them at any time:",
	NoAutomated:     "We make no automated decisions about you.",
	YourRightsTitle: "Your rights",
	ComplaintTitle:  "Right to complain",
	Complaint: "You have the right to lodge a complaint with a supervisory authority, in particular in the EU member state of your habitual residence, " +
		"place of work or place of the alleged infringement (Art. 77 GDPR). In Poland this is the President of the Personal Data Protection Office " +
		"(Prezes Urzędu Ochrony Danych Osobowych, uodo.gov.pl).",
	DirectMarketing:       "Direct marketing: you can object at any time and we will stop.",
	AutomatedDecision:     "Automated decision-making or profiling.",
	LedgerTitle:           "History of changes",
	LedgerIntro:           "Every change to your consents and data, as recorded in our tamper-evident ledger.",
	LedgerVerified:        "The history is complete and intact: every entry's checksum chains to the one before it.",
	LedgerBroken:          "Warning: the history could not be verified from entry %d on. Please contact us.",
	RetentionDays:         "%d days",
	RetentionRelationship: "As long as you are our customer",
	Bases: map[catalog.LegalBasis]string{
		catalog.Consent:             "Your consent (Art. 6(1)(a) GDPR)",
		catalog.Contract:            "Performance of a contract with you (Art. 6(1)(b) GDPR)",
		catalog.LegalObligation:     "A legal obligation (Art. 6(1)(c) GDPR)",
		catalog.VitalInterests:      "Vital interests (Art. 6(1)(d) GDPR)",
		catalog.PublicTask:          "A task in the public interest (Art. 6(1)(e) GDPR)",
		catalog.LegitimateInterests: "Our legitimate interests (Art. 6(1)(f) GDPR)",
	},
	Statuses: map[string]string{
		"granted": "Given", "denied": "Refused", "withdrawn": "Withdrawn", "subscribed": "Subscribed", "unsubscribed": "Unsubscribed",
		"pending": "Pending", "in_progress": "In progress", "completed": "Completed", "cancelled": "Cancelled", "failed": "Being handled",
	},
	Types: map[string]string{
		"access": "Access (Art. 15)", "portability": "Data portability (Art. 20)", "erasure": "Erasure (Art. 17)",
		"rectification": "Rectification (Art. 16)", "restriction": "Restriction (Art. 18)", "restriction_lift": "Lifting a restriction (Art. 18)",
		"objection": "Objection (Art. 21)", "automated_decision_opt_out": "Opting out of automated decisions (Art. 22)",
	},
	IDTypes:  map[string]string{"email": "Email address", "phone": "Phone number", "customer_id": "Customer number"},
	StdAttrs: map[string]string{"givenName": "Given name", "familyName": "Family name", "locale": "Language", "country": "Country"},
	Categories: map[string]string{
		"identities": "Identifiers (email addresses, phone numbers, customer numbers)", "attributes": "Profile details",
		"consents": "Consents", "subscriptions": "Communication preferences", "rights": "Restrictions and objections",
		"ledger": "History of changes", "requests": "Data protection requests",
	},
	Rights: []string{
		"To have inaccurate data corrected (Art. 16).",
		"To have your data erased (Art. 17).",
		"To restrict the processing of your data (Art. 18).",
		"To object to processing based on legitimate interests or for direct marketing (Art. 21).",
		"To receive your data in a machine-readable form and have it passed to another controller (Art. 20).",
		"To withdraw a consent at any time, without affecting processing before (Art. 7(3)).",
		"To lodge a complaint with a supervisory authority (Art. 77).",
	},
	Actors: map[string]string{
		ledger.ActorAPIKey:   "A system of %s (connection %s)",
		ledger.ActorPortal:   "You, in the preference centre",
		ledger.ActorSync:     "Synchronisation from the system %s",
		ledger.ActorOperator: "Staff of %s",
		ledger.ActorSystem:   "This service itself (for example, expiry of a consent)",
	},
}

var pl = messages{
	Lang:         "pl",
	Title:        "Twoje dane osobowe przetwarzane przez %s",
	Intro:        "To jest kopia wszystkich Twoich danych osobowych, które przetwarzamy, wraz z informacjami, do których uprawnia Cię art. 15 ogólnego rozporządzenia o ochronie danych (RODO).",
	Generated:    "Wygenerowano",
	RequestLabel: "Żądanie",
	ProfileLabel: "Identyfikator Twojego profilu",
	FilesTitle:   "Pliki w tym archiwum",
	FilesIntro:   "Te same dane w formie nadającej się do odczytu maszynowego są w pozostałych plikach archiwum; możesz je przenieść do innej usługi (art. 20 RODO).",
	FileDescr: map[string]string{
		FileJSON:          "Wszystkie dane w jednym dokumencie JSON (jego format jest opublikowany jako JSON Schema).",
		FileIdentities:    "Twoje identyfikatory: adresy e-mail, numery telefonów, numery klienta.",
		FileAttributes:    "Dane Twojego profilu.",
		FileConsents:      "Twoje zgody, według celów.",
		FileSubscriptions: "Twoje subskrypcje, według tematów.",
		FileLedger:        "Pełna historia zmian Twoich danych (rejestr zgód).",
		FileRequests:      "Twoje żądania dotyczące danych osobowych.",
		FileHTML:          "Ta strona.",
	},
	IdentitiesTitle: "Twoje identyfikatory", AttributesTitle: "Dane Twojego profilu", ConsentsTitle: "Twoje zgody",
	SubscriptionsTitle: "Twoje subskrypcje", RightsTitle: "Ograniczenia i sprzeciwy", RequestsTitle: "Twoje żądania",
	Type: "Rodzaj", Value: "Wartość", Name: "Nazwa", UpdatedAt: "Ostatnia zmiana", Purpose: "Cel", Status: "Stan",
	LegalBasis: "Podstawa prawna", NoticeVersion: "Wersja informacji", ExpiresAt: "Wygasa", Source: "Zmienione przez",
	AddedBy: "Dodane przez", AddedAt: "Dodano", NotRecorded: "Nie zarejestrowano",
	DataCategory: "Kategoria danych", SpecialCategory: "szczególna kategoria",
	Topic: "Temat", Channels: "Kanały", Frequency: "Częstotliwość", Received: "Otrzymano", Due: "Termin", Completed: "Zakończono",
	Verification: "Weryfikacja tożsamości", Description: "Opis", Retention: "Okres przechowywania", Notes: "Uwagi",
	Recipient: "Odbiorca", Host: "Adres systemu", Events: "Zmiany", First: "Pierwsza", Last: "Ostatnia", Seq: "Nr",
	At: "Kiedy", Event: "Zmiana", Subject: "Dotyczy", Actor: "Kto", None: "Brak.", Yes: "Tak", No: "Nie",
	Restricted:      "Ograniczenie przetwarzania (art. 18)",
	AutomatedOptOut: "Sprzeciw wobec zautomatyzowanych decyzji (art. 22)",
	Objections:      "Sprzeciwy (art. 21)",
	Art15Title:      "Informacje o przetwarzaniu (art. 15 RODO)",
	Art15Intro:      "W jakich celach i na jakiej podstawie przetwarzamy Twoje dane, jak długo, kto je otrzymuje i skąd pochodzą.",
	PurposesTitle:   "Cele, podstawy prawne i okresy przechowywania",
	CategoriesTitle: "Kategorie danych",
	RecipientsTitle: "Odbiorcy",
	RecipientsIntro: "Twoje dane są przekazywane do tych systemów naszych i naszych podmiotów przetwarzających:",
	NoRecipients:    "Twoje dane nie są przekazywane do innych systemów.",
	SourcesTitle:    "Źródła Twoich danych",
	SourcesIntro:    "Kto zapisał lub zmienił Twoje dane, według historii zmian:",
	AutomatedTitle:  "Zautomatyzowane podejmowanie decyzji i profilowanie",
	AutomatedIntro:  "Te cele obejmują zautomatyzowane decyzje lub profilowanie (art. 22); możesz z nich zrezygnować w każdej chwili:",
	NoAutomated:     "Nie podejmujemy wobec Ciebie zautomatyzowanych decyzji.",
	YourRightsTitle: "Twoje prawa",
	ComplaintTitle:  "Prawo do skargi",
	Complaint: "Masz prawo wnieść skargę do organu nadzorczego, w szczególności w państwie członkowskim UE swojego zwykłego pobytu, " +
		"miejsca pracy lub miejsca popełnienia domniemanego naruszenia (art. 77 RODO). W Polsce jest nim Prezes Urzędu Ochrony Danych Osobowych " +
		"(ul. Stawki 2, 00-193 Warszawa, uodo.gov.pl).",
	DirectMarketing:       "Marketing bezpośredni: możesz w każdej chwili wnieść sprzeciw, a zaprzestaniemy.",
	AutomatedDecision:     "Zautomatyzowane podejmowanie decyzji lub profilowanie.",
	LedgerTitle:           "Historia zmian",
	LedgerIntro:           "Każda zmiana Twoich zgód i danych, zapisana w naszym rejestrze odpornym na manipulacje.",
	LedgerVerified:        "Historia jest kompletna i nienaruszona: suma kontrolna każdego wpisu łączy się z poprzednim.",
	LedgerBroken:          "Uwaga: nie udało się zweryfikować historii od wpisu %d. Prosimy o kontakt.",
	RetentionDays:         "%d dni",
	RetentionRelationship: "Przez czas trwania naszej relacji",
	Bases: map[catalog.LegalBasis]string{
		catalog.Consent:             "Twoja zgoda (art. 6 ust. 1 lit. a RODO)",
		catalog.Contract:            "Wykonanie umowy z Tobą (art. 6 ust. 1 lit. b RODO)",
		catalog.LegalObligation:     "Obowiązek prawny (art. 6 ust. 1 lit. c RODO)",
		catalog.VitalInterests:      "Żywotne interesy (art. 6 ust. 1 lit. d RODO)",
		catalog.PublicTask:          "Zadanie realizowane w interesie publicznym (art. 6 ust. 1 lit. e RODO)",
		catalog.LegitimateInterests: "Nasz prawnie uzasadniony interes (art. 6 ust. 1 lit. f RODO)",
	},
	Statuses: map[string]string{
		"granted": "Udzielona", "denied": "Odmowa", "withdrawn": "Wycofana", "subscribed": "Zapisano", "unsubscribed": "Wypisano",
		"pending": "Oczekuje", "in_progress": "W realizacji", "completed": "Zrealizowane", "cancelled": "Anulowane", "failed": "W obsłudze",
	},
	Types: map[string]string{
		"access": "Dostęp (art. 15)", "portability": "Przenoszenie danych (art. 20)", "erasure": "Usunięcie (art. 17)",
		"rectification": "Sprostowanie (art. 16)", "restriction": "Ograniczenie (art. 18)", "restriction_lift": "Zniesienie ograniczenia (art. 18)",
		"objection": "Sprzeciw (art. 21)", "automated_decision_opt_out": "Rezygnacja z decyzji zautomatyzowanych (art. 22)",
	},
	IDTypes:  map[string]string{"email": "Adres e-mail", "phone": "Numer telefonu", "customer_id": "Numer klienta"},
	StdAttrs: map[string]string{"givenName": "Imię", "familyName": "Nazwisko", "locale": "Język", "country": "Kraj"},
	Categories: map[string]string{
		"identities": "Identyfikatory (adresy e-mail, numery telefonów, numery klienta)", "attributes": "Dane profilu",
		"consents": "Zgody", "subscriptions": "Preferencje komunikacji", "rights": "Ograniczenia i sprzeciwy",
		"ledger": "Historia zmian", "requests": "Żądania dotyczące danych osobowych",
	},
	Rights: []string{
		"Do sprostowania nieprawidłowych danych (art. 16).",
		"Do usunięcia danych (art. 17).",
		"Do ograniczenia przetwarzania (art. 18).",
		"Do wniesienia sprzeciwu wobec przetwarzania opartego na prawnie uzasadnionym interesie lub w celach marketingu bezpośredniego (art. 21).",
		"Do otrzymania danych w formacie nadającym się do odczytu maszynowego i przeniesienia ich do innego administratora (art. 20).",
		"Do wycofania zgody w dowolnym momencie, bez wpływu na wcześniejsze przetwarzanie (art. 7 ust. 3).",
		"Do wniesienia skargi do organu nadzorczego (art. 77).",
	},
	Actors: map[string]string{
		ledger.ActorAPIKey:   "System %s (połączenie %s)",
		ledger.ActorPortal:   "Ty, w centrum preferencji",
		ledger.ActorSync:     "Synchronizacja z systemu %s",
		ledger.ActorOperator: "Pracownik %s",
		ledger.ActorSystem:   "Ta usługa (na przykład wygaśnięcie zgody)",
	},
}
