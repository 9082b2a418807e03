package portal

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

// TestRenderEscapes renders a page full of hostile values: each comes out as text or as a
// harmless attribute, never as markup or a script URL, and the inline style sheet is the one
// the CSP allows by its hash.
func TestRenderEscapes(t *testing.T) {
	const evil = `<script>alert(1)</script>"onmouseover="x`
	th := NewTheme(Brand{Name: evil, PrimaryColor: "#000000;}body{display:none"})
	css, src := th.css()
	v := &view{tmpl: "message", Lang: "en", Title: evil, Theme: th, CSS: css, styleSrc: src, Base: "/portal/acme",
		Errors:  []fieldError{{Field: `x" onfocus="y`, Message: evil}},
		Notices: []string{evil},
		Langs:   []langItem{{Code: "pl", Name: evil, Href: "javascript:alert(1)"}},
		Data: messageData{Paragraphs: []string{evil}, Link: &link{Href: " JavaScript:alert(1)", Label: evil},
			Form: &messageForm{Action: "javascript:alert(2)", CSRF: evil, Hidden: []hidden{{Name: evil, Value: evil}}, Button: evil}}}
	b, csp, err := (&Portal{}).renderView(v)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, bad := range []string{"<script", `"onmouseover=`, `" onfocus=`, "javascript:", "JavaScript:", "display:none"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %s", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;&#34;onmouseover=&#34;x") {
		t.Error("text not escaped as expected")
	}
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(page, -1)
	if len(m) != 1 {
		t.Fatalf("%d style elements", len(m))
	}
	sum := sha256.Sum256([]byte(m[0][1]))
	if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "';"; !strings.Contains(csp, want) {
		t.Errorf("CSP %q does not allow the page's style sheet (%s)", csp, want)
	}
}

func TestStyleElementRefusesItsEnd(t *testing.T) {
	var b strings.Builder
	if err := styleElement("p{color:red}</STYLE><script>x</script>").Render(context.Background(), &b); err == nil || b.Len() > 0 {
		t.Fatalf("rendered %q, err %v", b.String(), err)
	}
}

func TestRenderRefusesMismatchedPage(t *testing.T) {
	v := &view{tmpl: "overview", Data: messageData{}}
	if _, _, err := (&Portal{}).renderView(v); err == nil {
		t.Fatal("rendered message data as the overview page")
	}
}
