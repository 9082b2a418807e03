package mail

import (
	"strings"

	"github.com/a-h/templ"
)

// letter is one kind of email in one language: its subject, its plain-text body (plain Go,
// as a mail client shows it: nothing is escaped) and its HTML body (a templ component,
// escaped by context).
type letter struct {
	subject string
	text    func(d map[string]string) string
	html    func(d map[string]string) templ.Component
}

// letters maps "<kind>.<locale>" to its letter; every kind has every locale
// (TestRenderEveryKindAndLocale).
var letters = map[string]letter{
	"login_link.en":       {"Your sign-in link", loginLinkTextEN, loginLinkEN},
	"login_link.pl":       {"Twój link do logowania", loginLinkTextPL, loginLinkPL},
	"export_ready.en":     {"Your data export is ready", exportReadyTextEN, exportReadyEN},
	"export_ready.pl":     {"Eksport Twoich danych jest gotowy", exportReadyTextPL, exportReadyPL},
	"erasure_done.en":     {"Your personal data has been erased", erasureDoneTextEN, erasureDoneEN},
	"erasure_done.pl":     {"Twoje dane osobowe zostały usunięte", erasureDoneTextPL, erasureDonePL},
	"request_extended.en": {"We need more time for your request", requestExtendedTextEN, requestExtendedEN},
	"request_extended.pl": {"Potrzebujemy więcej czasu na Twój wniosek", requestExtendedTextPL, requestExtendedPL},
	"request_denied.en":   {"Your request was declined", requestDeniedTextEN, requestDeniedEN},
	"request_denied.pl":   {"Twój wniosek został odrzucony", requestDeniedTextPL, requestDeniedPL},
	"request_confirm.en":  {"Please confirm your request", requestConfirmTextEN, requestConfirmEN},
	"request_confirm.pl":  {"Potwierdź swój wniosek", requestConfirmTextPL, requestConfirmPL},
}

// asked is what a request asks for ("request": access, portability, erasure), in a
// sentence of the confirmation email.
func asked(d map[string]string, pl bool) string {
	words := map[string][2]string{
		"erasure":     {"to erase all your personal data", "usunięcie wszystkich Twoich danych osobowych"},
		"portability": {"a machine-readable copy of your data", "przekazanie Twoich danych w formacie do odczytu maszynowego"},
		"access":      {"a copy of your personal data", "kopię Twoich danych osobowych"},
	}
	w, ok := words[d["request"]]
	if !ok {
		w = words["access"]
	}
	if pl {
		return w[1]
	}
	return w[0]
}

func requestConfirmTextEN(d map[string]string) string {
	ps := []string{"Hello,", "we received a request" + opt(" (", d["requestId"], ")") + " made for you: " + asked(d, false) + "."}
	if d["link"] != "" {
		ps = append(ps, "Nothing happens until you confirm it was you. Open this link and press the button to confirm:", d["link"],
			either(d["expiresAt"], "The link works once, until "+d["expiresAt"]+". ", "The link works once. ")+
				"If you did not ask for this, ignore this email: the request lapses unconfirmed.")
	}
	if d["cancelLink"] != "" {
		ps = append(ps, "Once confirmed, we wait"+opt(" ", d["coolOffDays"], " day(s)")+" before erasing, so that you can change your mind. To call the erasure off in that time, use this link:", d["cancelLink"])
	}
	return paragraphs(ps...)
}

func requestConfirmTextPL(d map[string]string) string {
	ps := []string{"Dzień dobry,", "otrzymaliśmy złożony w Twoim imieniu wniosek" + opt(" (", d["requestId"], ")") + ": " + asked(d, true) + "."}
	if d["link"] != "" {
		ps = append(ps, "Nic się nie stanie, dopóki nie potwierdzisz, że to Ty. Otwórz ten link i naciśnij przycisk, aby potwierdzić:", d["link"],
			either(d["expiresAt"], "Link działa raz, do "+d["expiresAt"]+". ", "Link działa raz. ")+
				"Jeśli to nie Ty, zignoruj tę wiadomość: niepotwierdzony wniosek wygaśnie.")
	}
	if d["cancelLink"] != "" {
		ps = append(ps, "Po potwierdzeniu odczekamy"+opt(" ", d["coolOffDays"], " dni")+" przed usunięciem danych, abyś mógł(-a) zmienić zdanie. Aby w tym czasie odwołać usunięcie, użyj tego linku:", d["cancelLink"])
	}
	return paragraphs(ps...)
}

// opt is before+v+after when v is given, else nothing: an optional part of a sentence.
func opt(before, v, after string) string {
	if v == "" {
		return ""
	}
	return before + v + after
}

// either is a when v is given, else b.
func either(v, a, b string) string {
	if v != "" {
		return a
	}
	return b
}

func paragraphs(ps ...string) string { return strings.Join(ps, "\n\n") }

func loginLinkTextEN(d map[string]string) string {
	return paragraphs("Hello,",
		"use this link to sign in to your privacy preferences:",
		d["link"],
		either(d["minutes"], "The link works for "+d["minutes"]+" minutes and only once.", "The link works only once and expires soon.")+
			" If you did not ask for it, ignore this email: nothing changes without the link.")
}

func loginLinkTextPL(d map[string]string) string {
	return paragraphs("Dzień dobry,",
		"użyj tego linku, aby zalogować się do swoich ustawień prywatności:",
		d["link"],
		either(d["minutes"], "Link działa przez "+d["minutes"]+" min i tylko raz.", "Link działa tylko raz i wkrótce wygaśnie.")+
			" Jeśli nie prosiłeś(-aś) o niego, zignoruj tę wiadomość: bez linku nic się nie zmieni.")
}

func exportReadyTextEN(d map[string]string) string {
	return paragraphs("Hello,",
		"the copy of your personal data you asked for"+opt(" (request ", d["requestId"], ")")+" is ready. Download it here:",
		d["link"],
		either(d["expiresAt"], "The download is available until "+d["expiresAt"]+"; after that it is deleted.",
			"The download is available for a limited time; after that it is deleted."))
}

func exportReadyTextPL(d map[string]string) string {
	return paragraphs("Dzień dobry,",
		"kopia Twoich danych osobowych, o którą prosiłeś(-aś)"+opt(" (wniosek ", d["requestId"], ")")+", jest gotowa. Pobierz ją tutaj:",
		d["link"],
		either(d["expiresAt"], "Plik można pobrać do "+d["expiresAt"]+"; potem zostanie usunięty.",
			"Plik można pobrać przez ograniczony czas; potem zostanie usunięty."))
}

func erasureDoneTextEN(d map[string]string) string {
	return paragraphs("Hello,",
		"as you asked"+opt(" (request ", d["requestId"], ")")+", we have erased your personal data"+opt(" on ", d["completedAt"], "")+
			": your profile, your preferences and consents and their history, and any exports of your data. The organisations we shared your data with have been told to erase it too.",
		"We keep only a record that the erasure happened, without your details, and a one-way code of your contact details so that our systems do not add you again by mistake.",
		"This is the last email we send to this address about it.")
}

func erasureDoneTextPL(d map[string]string) string {
	return paragraphs("Dzień dobry,",
		"zgodnie z Twoim żądaniem"+opt(" (wniosek ", d["requestId"], ")")+" usunęliśmy Twoje dane osobowe"+opt(" w dniu ", d["completedAt"], "")+
			": Twój profil, preferencje i zgody wraz z ich historią oraz wszystkie eksporty Twoich danych. Odbiorców, którym przekazaliśmy Twoje dane, poinformowaliśmy, aby również je usunęli.",
		"Przechowujemy jedynie informację, że usunięcie nastąpiło, bez Twoich danych, oraz jednokierunkowy skrót Twoich danych kontaktowych, aby nasze systemy przez pomyłkę nie dodały Cię ponownie.",
		"To ostatnia wiadomość w tej sprawie wysłana na ten adres.")
}

func requestExtendedTextEN(d map[string]string) string {
	return paragraphs("Hello,",
		"we need more time to answer your request"+opt(" ", d["requestId"], "")+". The law allows us to extend the deadline"+opt(" by ", d["months"], " month(s)")+
			" when a request is complex or we receive many. We will answer by "+d["dueAt"]+".",
		"Why: "+d["reason"])
}

func requestExtendedTextPL(d map[string]string) string {
	return paragraphs("Dzień dobry,",
		"potrzebujemy więcej czasu, aby odpowiedzieć na Twój wniosek"+opt(" ", d["requestId"], "")+". Przepisy pozwalają przedłużyć termin"+opt(" o ", d["months"], " mies.")+
			", gdy wniosek jest złożony lub wniosków jest wiele. Odpowiemy do "+d["dueAt"]+".",
		"Powód: "+d["reason"])
}

func requestDeniedTextEN(d map[string]string) string {
	return paragraphs("Hello,",
		"we cannot carry out your request"+opt(" ", d["requestId"], "")+".",
		"Why: "+d["reason"],
		"You may lodge a complaint with a data protection supervisory authority and seek a judicial remedy.")
}

func requestDeniedTextPL(d map[string]string) string {
	return paragraphs("Dzień dobry,",
		"nie możemy zrealizować Twojego wniosku"+opt(" ", d["requestId"], "")+".",
		"Powód: "+d["reason"],
		"Masz prawo wnieść skargę do organu nadzorczego (w Polsce: Prezesa Urzędu Ochrony Danych Osobowych) oraz dochodzić ochrony przed sądem.")
}
