package drp_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/drp"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// The key of RFC 8032 section 7.1, TEST 1.
var (
	seed, _ = hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	key     = ed25519.NewKeyFromSeed(seed)
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exercise is the fixture with its times around now.
func exercise(t testing.TB) []byte {
	s := strings.Replace(string(fixture(t, "exercise.json")), "ISSUED", now.Add(-time.Minute).Format(time.RFC3339), 1)
	return []byte(strings.Replace(s, "EXPIRES", now.Add(9*time.Minute).Format(time.RFC3339), 1))
}

func TestKnownKey(t *testing.T) {
	pub, err := drp.ParseVerifyKey(base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(pub) != "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a" {
		t.Fatalf("public key %x is not RFC 8032's", pub)
	}
	// RFC 8032's signature of the empty message, combined with it as crypto_sign does, is
	// refused only because a message must hold JSON: the signature itself verifies.
	sig, _ := hex.DecodeString("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
	if !ed25519.Verify(pub, nil, sig) {
		t.Fatal("RFC 8032 TEST 1 does not verify")
	}
	if _, err := drp.Open(pub, []byte(base64.StdEncoding.EncodeToString(sig))); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("a signature without a message: %v", err)
	}
}

func TestOpen(t *testing.T) {
	pub := key.Public().(ed25519.PublicKey)
	msg := exercise(t)
	sealed := drp.Seal(key, msg)
	raw, _ := base64.StdEncoding.DecodeString(string(sealed))
	tampered := slices.Clone(raw)
	tampered[len(tampered)-2] ^= 1
	_, otherKey, _ := ed25519.GenerateKey(nil)
	cases := []struct {
		name string
		pub  ed25519.PublicKey
		body []byte
		code errs.Code // "" when it opens
	}{
		{"as sealed", pub, sealed, ""},
		{"with a trailing newline", pub, append(slices.Clone(sealed), '\n'), ""},
		{"unpadded", pub, []byte(strings.TrimRight(string(sealed), "=")), ""},
		{"tampered message", pub, []byte(base64.StdEncoding.EncodeToString(tampered)), errs.Forbidden},
		{"another agent's key", otherKey.Public().(ed25519.PublicKey), sealed, errs.Forbidden},
		{"plain JSON", pub, msg, errs.Invalid},
		{"too short", pub, []byte("AAAA"), errs.Invalid},
		{"empty", pub, nil, errs.Invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := drp.Open(c.pub, c.body)
			if c.code == "" {
				if err != nil || string(got) != string(msg) {
					t.Fatalf("Open = %q, %v", got, err)
				}
				return
			}
			if errs.CodeOf(err) != c.code {
				t.Errorf("Open: %v, want %s", err, c.code)
			}
		})
	}
}

func TestParseExercise(t *testing.T) {
	x, err := drp.ParseExercise(exercise(t), "aa-id", "cb-id", now)
	if err != nil {
		t.Fatalf("the specification's example was refused: %v", err)
	}
	typ, _ := drp.TypeOf(x.Action)
	it, iv := x.Identity()
	if typ != dsr.Objection || x.RegimeOrVoluntary() != "ccpa" || it != "email" || iv != "jane@example.com" || x.AgentRequestID != "foo" ||
		len(x.Relationships) != 2 || x.StatusCallback == "" || !x.EmailVerified {
		t.Errorf("read %+v", x)
	}
}

// The example as printed (comments, a missing comma) is not JSON.
func TestParseSpecExampleAsPrinted(t *testing.T) {
	if _, err := drp.ParseExercise(fixture(t, "spec-2.01-exercise.txt"), "aa-id", "cb-id", now); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("got %v", err)
	}
	_, err := drp.ParsePairing(fixture(t, "spec-2.05-pairing.json"), "aa-id", "cb-id", now)
	if e, ok := errs.As(err); !ok || !slices.ContainsFunc(e.Fields, func(f errs.FieldError) bool { return f.Field == "issued-at" }) {
		t.Errorf("placeholder times: %v", err)
	}
	r, err := drp.ParseRevoke(fixture(t, "spec-2.04-revoke.json"))
	if err != nil || r.Reason != "I don't want my account deleted" {
		t.Errorf("revoke: %+v, %v", r, err)
	}
}

func TestParseExerciseRefusals(t *testing.T) {
	cases := []struct {
		name, agent, business string
		edit                  func(m map[string]any)
		field                 string
	}{
		{"another agent", "other", "cb-id", func(map[string]any) {}, "agent-id"},
		{"another business", "aa-id", "other", func(map[string]any) {}, "business-id"},
		{"expired", "aa-id", "cb-id", func(m map[string]any) { m["expires-at"] = now.Add(-time.Second).Format(time.RFC3339) }, "expires-at"},
		{"issued in the future", "aa-id", "cb-id", func(m map[string]any) { m["issued-at"] = now.Add(5 * time.Minute).Format(time.RFC3339) }, "issued-at"},
		{"window too long", "aa-id", "cb-id", func(m map[string]any) {
			m["issued-at"] = now.Add(-time.Minute).Format(time.RFC3339)
			m["expires-at"] = now.Add(2 * time.Hour).Format(time.RFC3339)
		}, "expires-at"},
		{"no version", "aa-id", "cb-id", func(m map[string]any) { delete(m, "drp.version") }, "drp.version"},
		{"version 0.7", "aa-id", "cb-id", func(m map[string]any) { m["drp.version"] = "0.7" }, "drp.version"},
		{"categories", "aa-id", "cb-id", func(m map[string]any) { m["exercise"] = "access:categories" }, "exercise"},
		{"opt in", "aa-id", "cb-id", func(m map[string]any) { m["exercise"] = "sale:opt-in" }, "exercise"},
		{"unknown action", "aa-id", "cb-id", func(m map[string]any) { m["exercise"] = "portability" }, "exercise"},
		{"gdpr regime", "aa-id", "cb-id", func(m map[string]any) { m["regime"] = "gdpr" }, "regime"},
		{"number email", "aa-id", "cb-id", func(m map[string]any) { m["email"] = 7 }, "email"},
		{"no identity", "aa-id", "cb-id", func(m map[string]any) { delete(m, "email") }, "email"},
		{"http callback", "aa-id", "cb-id", func(m map[string]any) { m["status_callback"] = "http://x.example/cb" }, "status_callback"},
		{"relationships not strings", "aa-id", "cb-id", func(m map[string]any) { m["relationships"] = []any{1} }, "relationships[0]"},
		{"verified not bool", "aa-id", "cb-id", func(m map[string]any) { m["email_verified"] = "yes" }, "email_verified"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := map[string]any{}
			if err := json.Unmarshal(exercise(t), &m); err != nil {
				t.Fatal(err)
			}
			c.edit(m)
			b, _ := json.Marshal(m)
			_, err := drp.ParseExercise(b, c.agent, c.business, now)
			e, ok := errs.As(err)
			if !ok || !slices.ContainsFunc(e.Fields, func(f errs.FieldError) bool { return f.Field == c.field }) {
				t.Errorf("got %v, want a problem naming %s", err, c.field)
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	cases := []struct {
		status         dsr.Status
		cancel         string
		want, wantWhy  string
		wantExpectedBy bool
	}{
		{dsr.AwaitingVerification, "", "open", "", true},
		{dsr.Pending, "", "in_progress", "", true},
		{dsr.InProgress, "", "in_progress", "", true},
		{dsr.Failed, "", "in_progress", "", true},
		{dsr.Completed, "", "fulfilled", "", false},
		{dsr.Denied, "", "denied", "other", false},
		{dsr.Cancelled, "", "revoked", "", false},
		{dsr.Cancelled, dsr.ExpiredReason, "denied", "insuf_verification", false},
	}
	for _, c := range cases {
		t.Run(string(c.status)+c.cancel, func(t *testing.T) {
			r := dsr.New("rq_x", "t", "p", dsr.Access, "", dsr.Unverified, ledger.Actor{Kind: ledger.ActorAPIKey, ID: "k"}, now)
			r.Status, r.CancelReason = c.status, c.cancel
			s := drp.StatusOfRequest(r, "foo")
			if s.Status != c.want || s.Reason != c.wantWhy || (s.ExpectedBy != nil) != c.wantExpectedBy || s.AgentRequestID != "foo" {
				t.Errorf("got %+v", s)
			}
		})
	}
}

// The status document uses the specification's names: every key is one of the example's.
func TestStatusUsesSpecNames(t *testing.T) {
	r := dsr.New("rq_x", "t", "p", dsr.Access, "", dsr.Unverified, ledger.Actor{Kind: ledger.ActorAPIKey, ID: "k"}, now)
	r.Status = dsr.AwaitingVerification
	b, _ := json.Marshal(drp.StatusOfRequest(r, "foo"))
	var got, spec map[string]any
	_ = json.Unmarshal(b, &got)
	_ = json.Unmarshal(fixture(t, "spec-3.03-status.json"), &spec)
	for k := range got {
		if _, ok := spec[k]; !ok {
			t.Errorf("key %s is not in the specification's example", k)
		}
	}
}

func FuzzOpenExercise(f *testing.F) {
	pub := key.Public().(ed25519.PublicKey)
	f.Add(exercise(f))
	f.Add(fixture(f, "spec-2.01-exercise.txt"))
	f.Add([]byte(`{"agent-id":"aa-id","agent-id":"x"}`))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		got, err := drp.Open(pub, drp.Seal(key, msg))
		if len(msg) >= 2 && (err != nil || string(got) != string(msg)) {
			t.Fatalf("a sealed message did not open: %v", err)
		}
		if _, err := drp.Open(pub, msg); err != nil && errs.CodeOf(err) == errs.Internal {
			t.Fatalf("unclassified: %v", err)
		}
		if _, err := drp.ParseExercise(msg, "aa-id", "cb-id", now); err != nil {
			if e, ok := errs.As(err); !ok || len(e.Fields) == 0 || e.Fields[0].Field == "" {
				t.Fatalf("refusal %v names no field", err)
			}
		}
		if _, err := drp.ParseRevoke(msg); err != nil && errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("revoke refusal %v", err)
		}
	})
}
