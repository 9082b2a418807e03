package portal

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/portal/session"
)

// Languages of the portal's own texts. Catalog texts (purposes, topics, notices) are shown
// in the page's language when the catalog has it, else in the catalog's default locale.
var uiLangs = []string{"en", "pl"}

var langNames = map[string]string{"en": "English", "pl": "Polski"}

func isUI(l string) bool { return slices.Contains(uiLangs, l) }

// primary is a locale's language subtag, lower-cased ("pl-PL" -> "pl").
func primary(locale string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(locale), "-")
	l, _, _ = strings.Cut(l, "_")
	return strings.ToLower(l)
}

// negotiate picks the page language: one the person picked (?lang=, remembered in a
// cookie), else the profile's locale attribute, else the browser's Accept-Language, else
// the catalog's default, else English.
func (r *rc) negotiate(profileLocale string) string {
	if l := r.query("lang"); isUI(l) {
		if r.cookies[session.LangCookie] != l && !slices.ContainsFunc(r.set, func(c string) bool { return strings.HasPrefix(c, session.LangCookie+"=") }) {
			r.set = append(r.set, session.SetCookie(session.LangCookie, l, int((365*24*time.Hour)/time.Second)))
		}
		return l
	}
	if l := r.cookies[session.LangCookie]; isUI(l) {
		return l
	}
	if l := primary(profileLocale); isUI(l) {
		return l
	}
	if l := acceptLanguage(r.header("accept-language")); l != "" {
		return l
	}
	if r.cat != nil && isUI(primary(r.cat.DefaultLocale)) {
		return primary(r.cat.DefaultLocale)
	}
	return "en"
}

// acceptLanguage returns the most preferred portal language in an Accept-Language header.
func acceptLanguage(h string) string {
	type pref struct {
		lang string
		q    float64
		i    int
	}
	var prefs []pref
	for i, part := range strings.Split(h, ",") {
		if i >= 20 {
			break
		}
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		if l := primary(tag); isUI(l) && q > 0 {
			prefs = append(prefs, pref{l, q, i})
		}
	}
	slices.SortFunc(prefs, func(a, b pref) int { return cmp.Or(cmp.Compare(b.q, a.q), cmp.Compare(a.i, b.i)) })
	if len(prefs) == 0 {
		return ""
	}
	return prefs[0].lang
}

// translate returns message key in lang (falling back to English), with args formatted in.
// A missing key renders as the key itself, which the tests forbid.
func translate(lang, key string, args ...any) string {
	m, ok := messages[lang][key]
	if !ok {
		m, ok = messages["en"][key]
	}
	if !ok {
		return key
	}
	if len(args) == 0 {
		return m
	}
	return fmt.Sprintf(m, args...)
}

// text returns a catalog text in lang, else the catalog's default locale, else any, and
// the locale it is in (for the lang attribute).
func text(t catalog.Text, lang string, cat *catalog.Catalog) (string, string) {
	if s := t[lang]; s != "" {
		return s, lang
	}
	if s := t[cat.DefaultLocale]; s != "" {
		return s, cat.DefaultLocale
	}
	for _, l := range slices.Sorted(maps.Keys(t)) {
		if t[l] != "" {
			return t[l], l
		}
	}
	return "", lang
}

var monthsPL = [...]string{"stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia", "września", "października", "listopada", "grudnia"}

// date formats a day in lang (UTC).
func date(lang string, t time.Time) string {
	t = t.UTC()
	if lang == "pl" {
		return fmt.Sprintf("%d %s %d", t.Day(), monthsPL[t.Month()-1], t.Year())
	}
	return t.Format("2 January 2006")
}

// dateTime formats an instant in lang (UTC).
func dateTime(lang string, t time.Time) string {
	return date(lang, t) + ", " + t.UTC().Format("15:04") + " UTC"
}
