package dsr_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/ledger"
)

func awaiting(t *testing.T, typ dsr.Type, now time.Time) (*dsr.Request, string, string) {
	t.Helper()
	r := dsr.New("rq_aaaaaaaaaaaaaaaaaaaaaaaaaa", "demo", "p_x", typ, "", dsr.Unverified, ledger.Actor{Kind: ledger.ActorAPIKey, ID: "k"}, now)
	by := now.Add(7 * 24 * time.Hour)
	r.Status, r.VerifyBy = dsr.AwaitingVerification, &by
	confirm, h := dsr.NewToken(dsr.TokenConfirm, r.ID)
	cancel, hc := dsr.NewToken(dsr.TokenCancel, r.ID)
	r.ConfirmHash, r.CancelHash = h, hc
	return r, confirm, cancel
}

// TestConfirmOnce: the confirmation link confirms once, only before it expires, only as a
// confirmation link; the deadline keeps running from receipt.
func TestConfirmOnce(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		use  func(r *dsr.Request, confirm, cancel string) error
		ok   bool
	}{
		{"confirm", func(r *dsr.Request, c, _ string) error { return r.Confirm(c, 0, now.Add(time.Hour)) }, true},
		{"twice", func(r *dsr.Request, c, _ string) error {
			if err := r.Confirm(c, 0, now); err != nil {
				return err
			}
			return r.Confirm(c, 0, now)
		}, false},
		{"expired", func(r *dsr.Request, c, _ string) error { return r.Confirm(c, 0, now.Add(8*24*time.Hour)) }, false},
		{"cancel token confirms nothing", func(r *dsr.Request, _, x string) error { return r.Confirm(x, 0, now) }, false},
		{"forged", func(r *dsr.Request, c, _ string) error { return r.Confirm(flip(c), 0, now) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, c, x := awaiting(t, dsr.Access, now)
			due := r.DueAt
			err := tt.use(r, c, x)
			if tt.ok != (err == nil) || err != nil && !errors.Is(err, dsr.ErrLinkUsed) {
				t.Fatalf("err %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && (r.Status != dsr.Pending || r.Verification != dsr.EmailConfirmed || r.ConfirmHash != "" || !r.DueAt.Equal(due) || r.Waiting()) {
				t.Fatalf("confirmed request %+v", r)
			}
		})
	}
}

// TestCoolOff: a confirmed erasure under a cool-off waits (Waiting, a timer at its end)
// until released, and can be called off by its cancel link meanwhile, not after.
func TestCoolOff(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r, c, x := awaiting(t, dsr.Erasure, now)
	if !r.Waiting() || !r.Timer().Equal(*r.VerifyBy) {
		t.Fatalf("awaiting: waiting %v timer %v", r.Waiting(), r.Timer())
	}
	if err := r.Confirm(c, 3*24*time.Hour, now); err != nil {
		t.Fatal(err)
	}
	end := now.Add(3 * 24 * time.Hour)
	if !r.Waiting() || !r.Timer().Equal(end) {
		t.Fatalf("cooling off: waiting %v timer %v", r.Waiting(), r.Timer())
	}
	released := *r
	released.ReleasedAt = &end
	if released.Waiting() || !released.Timer().IsZero() {
		t.Fatal("released erasure still waits")
	}
	if err := released.CallOff(x, end); !errors.Is(err, dsr.ErrLinkUsed) {
		t.Fatalf("call off after release: %v", err)
	}
	if err := r.CallOff(x, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r.Status != dsr.Cancelled || r.CancelReason == "" || r.CancelHash != "" || !r.Timer().IsZero() {
		t.Fatalf("called off: %+v", r)
	}
}

func TestParseToken(t *testing.T) {
	tok, _ := dsr.NewToken(dsr.TokenCancel, "rq_aaaaaaaaaaaaaaaaaaaaaaaaaa")
	for _, tt := range []struct {
		in string
		ok bool
	}{{tok, true}, {"", false}, {"z" + tok[1:], false}, {tok + "a", false}, {strings.Repeat("a", 200), false}} {
		if _, id, ok := dsr.ParseToken(tt.in); ok != tt.ok || ok && id != "rq_aaaaaaaaaaaaaaaaaaaaaaaaaa" {
			t.Errorf("ParseToken(%q) = %q, %v", tt.in, id, ok)
		}
	}
}

// flip changes a token's last character.
func flip(tok string) string {
	last := "a"
	if strings.HasSuffix(tok, "a") {
		last = "b"
	}
	return tok[:len(tok)-1] + last
}
