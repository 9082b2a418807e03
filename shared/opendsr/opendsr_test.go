package opendsr_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/jsonin"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/opendsr"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSpecExample(t *testing.T) {
	r, err := opendsr.ParseRequest(fixture(t, "request.json"), now)
	if err != nil {
		t.Fatalf("the specification's example (made valid for 2.0) was refused: %v", err)
	}
	typ, _ := opendsr.TypeOf(r.SubjectRequestType)
	it, iv := r.Identity()
	if typ != dsr.Erasure || it != "email" || iv != "johndoe@example.com" || r.SubjectRequestID != "a7551968-d5d6-44b2-9831-815ac9017798" ||
		!r.SubmittedTime.Equal(time.Date(2018, 10, 2, 15, 0, 0, 0, time.UTC)) || len(r.StatusCallbackURLs) != 1 || len(r.Extensions) != 2 {
		t.Errorf("read %+v", r)
	}
}

// The example as the specification prints it has a trailing comma: it is not JSON, and is
// refused as such, naming where.
func TestParseSpecExampleAsPrinted(t *testing.T) {
	_, err := opendsr.ParseRequest(fixture(t, "spec-7.2-request.json"), now)
	e, ok := errs.As(err)
	if !ok || e.Code != errs.Invalid || len(e.Fields) == 0 {
		t.Fatalf("got %v, want an invalid-body problem", err)
	}
}

func TestParseRefusals(t *testing.T) {
	valid := map[string]any{}
	if err := json.Unmarshal(fixture(t, "request.json"), &valid); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		edit  func(m map[string]any)
		field string
	}{
		{"no regulation", func(m map[string]any) { delete(m, "regulation") }, "regulation"},
		{"regulation lgpd", func(m map[string]any) { m["regulation"] = "lgpd" }, "regulation"},
		{"upper-case id", func(m map[string]any) { m["subject_request_id"] = "A7551968-D5D6-44B2-9831-815AC9017798" }, "subject_request_id"},
		{"uuid v1", func(m map[string]any) { m["subject_request_id"] = "a7551968-d5d6-14b2-9831-815ac9017798" }, "subject_request_id"},
		{"rectification", func(m map[string]any) { m["subject_request_type"] = "rectification" }, "subject_request_type"},
		{"no identities", func(m map[string]any) { delete(m, "subject_identities") }, "subject_identities"},
		{"hashed identity", func(m map[string]any) {
			m["subject_identities"] = []any{map[string]any{"identity_type": "email", "identity_value": "x", "identity_format": "sha256"}}
		}, "subject_identities[0].identity_format"},
		{"advertising id", func(m map[string]any) {
			m["subject_identities"] = []any{map[string]any{"identity_type": "ios_advertising_id", "identity_value": "x", "identity_format": "raw"}}
		}, "subject_identities[0].identity_type"},
		{"unknown identity key", func(m map[string]any) {
			m["subject_identities"] = []any{map[string]any{"identity_type": "email", "identity_value": "x", "identity_format": "raw", "x": 1}}
		}, "subject_identities[0].x"},
		{"future submission", func(m map[string]any) { m["submitted_time"] = now.Add(time.Hour).Format(time.RFC3339) }, "submitted_time"},
		{"not a time", func(m map[string]any) { m["submitted_time"] = "yesterday" }, "submitted_time"},
		{"http callback", func(m map[string]any) { m["status_callback_urls"] = []any{"http://example.com/cb"} }, "status_callback_urls[0]"},
		{"callback with credentials", func(m map[string]any) { m["status_callback_urls"] = []any{"https://u:p@example.com/cb"} }, "status_callback_urls[0]"},
		{"api version 3", func(m map[string]any) { m["api_version"] = "3.0" }, "api_version"},
		{"unknown field", func(m map[string]any) { m["property_id"] = "1" }, "property_id"},
		{"wrong type", func(m map[string]any) { m["subject_request_type"] = 1 }, "subject_request_type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := map[string]any{}
			b, _ := json.Marshal(valid)
			_ = json.Unmarshal(b, &m)
			c.edit(m)
			b, _ = json.Marshal(m)
			_, err := opendsr.ParseRequest(b, now)
			e, ok := errs.As(err)
			if !ok || e.Code != errs.Invalid {
				t.Fatalf("got %v, want invalid", err)
			}
			if !slices.ContainsFunc(e.Fields, func(f errs.FieldError) bool { return f.Field == c.field }) {
				t.Errorf("fields %+v do not name %s", e.Fields, c.field)
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	want := map[dsr.Status]string{
		dsr.Pending: "pending", dsr.AwaitingVerification: "pending", dsr.InProgress: "in_progress", dsr.Failed: "in_progress",
		dsr.Completed: "completed", dsr.Cancelled: "cancelled", dsr.Denied: "cancelled",
	}
	for s, w := range want {
		t.Run(string(s), func(t *testing.T) {
			if got := opendsr.StatusOf(s); got != w {
				t.Errorf("StatusOf(%s) = %s, want %s", s, got, w)
			}
		})
	}
}

func TestTypeOf(t *testing.T) {
	for in, w := range map[string]dsr.Type{"access": dsr.Access, "portability": dsr.Portability, "erasure": dsr.Erasure} {
		if got, err := opendsr.TypeOf(in); err != nil || got != w {
			t.Errorf("TypeOf(%s) = %s, %v", in, got, err)
		}
	}
	if _, err := opendsr.TypeOf("restriction"); err == nil {
		t.Error("restriction mapped")
	}
}

// keysOf returns the keys of a JSON object.
func keysOf(t *testing.T, b []byte) []string {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

// What the processor writes uses the specification's field names: every key it writes is
// one of the example's.
func TestDocumentsUseSpecNames(t *testing.T) {
	r := dsr.New("rq_x", "t", "p", dsr.Erasure, "", dsr.Unverified, ledger.Actor{Kind: ledger.ActorAPIKey, ID: "k"}, now)
	st := opendsr.StatusOfRequest("brand", "a7551968-d5d6-44b2-9831-815ac9017798", r)
	cases := []struct {
		name    string
		doc     any
		fixture string
	}{
		{"status", st, "spec-8.4-status.json"},
		{"callback", opendsr.CallbackOf(st, "https://examplecontroller.com/cb"), "spec-8.7-callback.json"},
		{"discovery", opendsr.NewDiscovery("https://x/cert.pem"), "spec-6.4-discovery.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, _ := json.Marshal(c.doc)
			spec := keysOf(t, fixture(t, c.fixture))
			for _, k := range keysOf(t, b) {
				if !slices.Contains(spec, k) && !(k == "api_version" && c.name == "callback") {
					t.Errorf("key %s is not in the specification's example %v", k, spec)
				}
			}
		})
	}
	// The example discovery document reads into Discovery strictly.
	var d opendsr.Discovery
	if err := jsonin.Decode(fixture(t, "spec-6.4-discovery.json"), &d); err != nil || d.ProcessorCertificate == "" {
		t.Errorf("spec discovery: %v", err)
	}
}

func TestSignVerify(t *testing.T) {
	key, err := opendsr.ParseKey(fixture(t, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pemPub, err := opendsr.PublicKeyPEM(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := opendsr.ParsePublicKeyPEM(pemPub)
	if err != nil {
		t.Fatal(err)
	}
	body := fixture(t, "spec-8.7-callback.json")
	sig, err := opendsr.Sign(key, body)
	if err != nil {
		t.Fatal(err)
	}
	folded := sig[:80] + "\n" + sig[80:]
	cases := []struct {
		name string
		body []byte
		sig  string
		ok   bool
	}{
		{"as signed", body, sig, true},
		{"folded header", body, folded, true},
		{"tampered body", []byte(strings.Replace(string(body), "pending", "completed", 1)), sig, false},
		{"one byte more", append(slices.Clone(body), ' '), sig, false},
		{"not base64", body, "!!", false},
		{"empty", body, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := opendsr.Verify(pub, c.body, c.sig); (err == nil) != c.ok {
				t.Errorf("Verify = %v, want ok %v", err, c.ok)
			}
		})
	}
	other, _ := opendsr.GenerateKey()
	if opendsr.Verify(&other.PublicKey, body, sig) == nil {
		t.Error("another key verified the signature")
	}
	if _, err := opendsr.ParseKey(pemPub); err == nil {
		t.Error("a public key parsed as a private key")
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add(fixture(f, "request.json"))
	f.Add(fixture(f, "spec-7.2-request.json"))
	f.Add([]byte(`{"subject_identities":[{"identity_type":"email","identity_type":"email"}]}`))
	f.Add([]byte("\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := opendsr.ParseRequest(b, now)
		if err == nil {
			if r == nil || len(r.SubjectIdentities) == 0 {
				t.Fatal("accepted without an identity")
			}
			return
		}
		e, ok := errs.As(err)
		if !ok || e.Code != errs.Invalid || len(e.Fields) == 0 || e.Fields[0].Field == "" {
			t.Fatalf("refusal %v names no field", err)
		}
	})
}

// A signed callback verifies from its headers alone, as a controller checks it (section 8.8).
func TestSignedCallback(t *testing.T) {
	key, err := opendsr.ParseKey(fixture(t, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	r := dsr.New("rq_x", "t", "p", dsr.Erasure, "", dsr.Unverified, ledger.Actor{Kind: ledger.ActorAPIKey, ID: "k"}, now)
	r.Status = dsr.Completed
	cb := opendsr.CallbackOf(opendsr.StatusOfRequest("brand", "a7551968-d5d6-44b2-9831-815ac9017798", r), "https://examplecontroller.com/cb")
	body, h, err := opendsr.Signed(key, "api.example.com", cb)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{opendsr.HeaderSignature, opendsr.LegacyHeaderSignature} {
		if err := opendsr.Verify(&key.PublicKey, body, h[name]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if h[opendsr.HeaderDomain] != "api.example.com" || h[opendsr.LegacyHeaderDomain] != "api.example.com" {
		t.Errorf("headers %v", h)
	}
	var got opendsr.Callback
	if err := jsonin.Decode(body, &got); err != nil || got.RequestStatus != "completed" || got.StatusCallbackURL != "https://examplecontroller.com/cb" {
		t.Errorf("body %s: %v", body, err)
	}
	if opendsr.Verify(&key.PublicKey, []byte(strings.Replace(string(body), "completed", "cancelled", 1)), h[opendsr.HeaderSignature]) == nil {
		t.Error("a tampered callback verified")
	}
}
