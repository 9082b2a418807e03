package browser

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/portallink"
)

// The tenants. Login counters are per tenant and per client IP (every request here comes
// from 127.0.0.1), so the tests that spend them each get a tenant of their own.
const (
	tenant      = "acme"    // the browser journeys, tokens, CSRF
	otherTenant = "globex"  // another brand; the login enumeration test
	limitTenant = "initech" // the rate-limit test exhausts its login counters
)

// env is the local stack every test in the package talks to.
var env struct {
	stack *localstack.Stack
	keys  map[string]string // tenant -> admin API key
	// links signs with the stack's portal secret, for tokens the brand API never mints
	// (expired ones).
	links *portallink.Signer
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx := context.Background()
	st, err := localstack.Start(ctx, localstack.Options{StackName: "br" + randomLetters(8)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start local stack:", err)
		return 1
	}
	defer st.Close()
	env.stack, env.keys = st, map[string]string{}
	store := dynamo.New(dynamodb.NewFromConfig(st.AWS.AWS), st.Table)
	svc := app.New(store, time.Now, 0)
	for _, id := range []string{tenant, otherTenant, limitTenant} {
		if err := seed.Tenant(ctx, store, id, strings.ToUpper(id[:1])+id[1:]+" Shop"); err != nil {
			fmt.Fprintln(os.Stderr, "seed tenant:", err)
			return 1
		}
		if _, err := seed.LoadCatalog(ctx, svc, id, seed.DemoCatalog); err != nil {
			fmt.Fprintln(os.Stderr, "seed catalog:", err)
			return 1
		}
		plain, _, err := seed.Key(ctx, store, id, "browser-tests", []apikey.Scope{apikey.Admin, apikey.PortalLinks})
		if err != nil {
			fmt.Fprintln(os.Stderr, "seed key:", err)
			return 1
		}
		env.keys[id] = plain
	}
	secret, err := secretsmanager.NewFromConfig(st.AWS.AWS).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(st.Physical["PortalSigningSecret"].ARN)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "read the portal secret:", err)
		return 1
	}
	key, err := portallink.ParseSecret(aws.ToString(secret.SecretString))
	if err == nil {
		env.links, err = portallink.NewSigner(key)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "portal secret:", err)
		return 1
	}
	defer closeBrowser()
	code := m.Run()
	if code == 0 {
		if err := st.CheckPolicies(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: least privilege:", err)
			code = 1
		}
	}
	return code
}

func randomLetters(n int) string {
	const abc = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = abc[int(b[i])%len(abc)]
	}
	return string(b)
}

// reply is a response of the local API.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not a JSON object (%d): %s", r.status, r.body)
	}
	return m
}

// api calls the brand API of a tenant with its admin key.
func api(t testing.TB, tenantID, method, path string, body any) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, env.stack.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+env.keys[tenantID])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func mustStatus(t testing.TB, r reply, want int) reply {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
	return r
}

// person is a profile a test made through the brand API.
type person struct {
	tenant, id, email string
}

// newPerson creates a profile with a unique email address, English details, consent to
// marketing and the newsletter by email.
func newPerson(t testing.TB, tenantID, locale string) person {
	t.Helper()
	email := "ada-" + randomLetters(10) + "@example.com"
	r := mustStatus(t, api(t, tenantID, "POST", "/v1/profiles", map[string]any{
		"identities": []map[string]string{{"type": "email", "value": email}},
		"attributes": map[string]any{"givenName": "Ada", "familyName": "Nowak", "locale": locale, "country": "PL"},
		"consents":   map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2}},
		"subscriptions": map[string]any{
			"newsletter": map[string]any{"status": "subscribed", "channels": []string{"email"}, "frequency": "monthly"},
		},
	}), 201)
	return person{tenant: tenantID, id: r.object(t)["id"].(string), email: email}
}

// portalLink mints a brand's portal link (POST /v1/portal-links) for the person.
func portalLink(t testing.TB, p person, extra map[string]any) map[string]any {
	t.Helper()
	body := map[string]any{"profileId": p.id}
	for k, v := range extra {
		body[k] = v
	}
	return mustStatus(t, api(t, p.tenant, "POST", "/v1/portal-links", body), 201).object(t)
}

// linkURL is portalLink's url.
func linkURL(t testing.TB, p person) string {
	t.Helper()
	u, _ := portalLink(t, p, nil)["url"].(string)
	if !strings.HasPrefix(u, env.stack.URL+"/portal/"+p.tenant+"/t/") {
		t.Fatalf("portal link %q does not point into the local portal", u)
	}
	return u
}

// consentCheck asks the brand API whether the person may be contacted for purpose.
func consentCheck(t testing.TB, p person, purpose string) (allowed bool, reason string) {
	t.Helper()
	m := mustStatus(t, api(t, p.tenant, "POST", "/v1/consent-checks",
		map[string]any{"identity": map[string]string{"type": "email", "value": p.email}, "purpose": purpose}), 200).object(t)
	allowed, _ = m["allowed"].(bool)
	reason, _ = m["reason"].(string)
	return allowed, reason
}

// profileOf reads the person through the brand API; nil when it answers 404.
func profileOf(t testing.TB, p person) map[string]any {
	t.Helper()
	r := api(t, p.tenant, "GET", "/v1/profiles/"+p.id, nil)
	if r.status == 404 {
		return nil
	}
	return mustStatus(t, r, 200).object(t)
}

// eventually retries check until it returns "" or the time is up, and fails with its last
// answer.
func eventually(t testing.TB, within time.Duration, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after %v", what, msg, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// mailsTo returns the captured emails to an address, oldest first.
func mailsTo(t testing.TB, addr string) []localstack.Email {
	t.Helper()
	all, err := env.stack.Mailbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []localstack.Email
	for _, e := range all {
		if slices.Contains(e.Recipients(), addr) {
			out = append(out, e)
		}
	}
	return out
}

// loginLinkRE finds an emailed login link into the local portal.
var loginLinkRE = regexp.MustCompile(`https?://[^\s"'<>]+/portal/[a-z0-9-]+/t/[A-Za-z0-9._~%-]+`)

// waitLoginLink waits for email number n (counting from 1) to addr and returns the login
// link in it, read from the stack's mailbox as a person would read it.
func waitLoginLink(t testing.TB, addr string, n int) string {
	t.Helper()
	var link string
	eventually(t, 15*time.Second, "login email to "+addr, func() string {
		mails := mailsTo(t, addr)
		if len(mails) < n {
			return fmt.Sprintf("%d emails", len(mails))
		}
		m := mails[n-1]
		link = loginLinkRE.FindString(m.Text + " " + m.HTML)
		if link == "" {
			return "no login link in " + fmt.Sprintf("%q", m.Subject)
		}
		link = strings.ReplaceAll(link, "&amp;", "&")
		return ""
	})
	return link
}
