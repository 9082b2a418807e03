package portal

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
)

// Brand is how a tenant presents its portal: its name, an optional logo and colours. Any
// field may be empty or unsafe; the portal turns it into a Theme that is always safe to
// render and readable.
type Brand struct {
	Name string
	// LogoURL is an https URL of an image; anything else is ignored.
	LogoURL string
	// Colours as "#rrggbb". Primary is used for links, buttons and the focus ring.
	PrimaryColor    string
	BackgroundColor string
	TextColor       string
}

// Theme is a validated Brand: colours that meet WCAG 2.x contrast (at least 4.5:1 for text
// on the page background, links, and button text on the primary colour), a logo URL that is
// https (or none), and the brand's name (or a neutral one).
type Theme struct {
	Name       string
	LogoURL    string
	logoOrigin string // "https://host[:port]" for the CSP img-src
	Background string
	Text       string
	Primary    string
	OnPrimary  string // button text on Primary
	Error      string
}

// The default palette. Every pair in it passes 4.5:1 (TestDefaultThemeContrast).
const (
	defaultBackground = "#ffffff"
	defaultText       = "#1f2328"
	defaultPrimary    = "#0b5cad"
	defaultError      = "#b3261e"
	defaultName       = "Privacy centre"
)

// MinContrast is the WCAG 2.x AA contrast ratio for normal text.
const MinContrast = 4.5

// ValidColour reports whether s is a colour the portal accepts: "#rrggbb".
func ValidColour(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, c := range []byte(s[1:]) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// logoOrigin returns the origin of a logo URL the portal accepts (absolute https with a
// host, no credentials, at most 2,048 bytes, no characters that need escaping in CSS/HTML).
func logoOrigin(s string) (string, bool) {
	if s == "" || len(s) > 2048 || strings.ContainsAny(s, " \"'<>\\`;,") {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	return "https://" + u.Host, true
}

// NewTheme validates b. Invalid colours fall back to the defaults; so does any pair of
// colours that would not reach MinContrast.
func NewTheme(b Brand) Theme {
	t := Theme{Name: strings.TrimSpace(b.Name), Background: defaultBackground, Text: defaultText, Primary: defaultPrimary, Error: defaultError}
	if t.Name == "" || len(t.Name) > 200 {
		t.Name = defaultName
	}
	if o, ok := logoOrigin(b.LogoURL); ok {
		t.LogoURL, t.logoOrigin = b.LogoURL, o
	}
	bg, fg := strings.ToLower(b.BackgroundColor), strings.ToLower(b.TextColor)
	if !ValidColour(bg) {
		bg = defaultBackground
	}
	if !ValidColour(fg) {
		fg = defaultText
	}
	if Contrast(bg, fg) >= MinContrast {
		t.Background, t.Text = bg, fg
	}
	if p := strings.ToLower(b.PrimaryColor); ValidColour(p) && Contrast(p, t.Background) >= MinContrast {
		t.Primary = p
	} else if Contrast(t.Primary, t.Background) < MinContrast {
		// A custom background the default primary does not contrast with: links and buttons
		// take the text colour, which does.
		t.Primary = t.Text
	}
	t.OnPrimary = "#ffffff"
	if Contrast(t.Primary, "#000000") > Contrast(t.Primary, "#ffffff") {
		t.OnPrimary = "#000000"
	}
	if Contrast(t.Error, t.Background) < MinContrast {
		t.Error = t.Text
	}
	return t
}

// Contrast returns the WCAG 2.x contrast ratio of two "#rrggbb" colours (1 to 21).
func Contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// luminance is the WCAG relative luminance of "#rrggbb".
func luminance(c string) float64 {
	ch := func(i int) float64 {
		v, _ := strconv.ParseUint(c[i:i+2], 16, 8)
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	if !ValidColour(c) {
		return 0
	}
	return 0.2126*ch(1) + 0.7152*ch(3) + 0.0722*ch(5)
}

// css returns the page's style sheet with the theme's colours, and its CSP source
// ('sha256-…') so that the inline <style> is the only style the page may apply.
func (t Theme) css() (string, string) {
	vars := fmt.Sprintf(":root{--bg:%s;--fg:%s;--primary:%s;--on-primary:%s;--error:%s}\n",
		t.Background, t.Text, t.Primary, t.OnPrimary, t.Error)
	css := vars + baseCSS
	sum := sha256.Sum256([]byte(css))
	return css, "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
