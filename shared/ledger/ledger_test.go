package ledger_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/ledger"
)

var t0 = time.Date(2026, 5, 4, 10, 30, 0, 123456789, time.UTC)

// chain returns n sealed events with seq 1..n following anchor.
func chain(anchor string, n int) []ledger.Event {
	evs := make([]ledger.Event, n)
	prev := anchor
	for i := range evs {
		seq := int64(i + 1)
		evs[i] = ledger.Event{
			ID: "ev_" + string(rune('a'+i)), Tenant: "acme", ProfileID: "pr_1", Seq: seq,
			Type: "consent.changed", At: t0.Add(time.Duration(i) * time.Minute),
			Actor:     ledger.Actor{Kind: ledger.ActorAPIKey, ID: "kabcdefghijklmnop"},
			RequestID: "req-" + string(rune('a'+i)), Subject: "marketing", NoticeVersion: 2, LegalBasis: "consent",
			Old: json.RawMessage(`{"status":"denied","noticeVersion":1}`),
			New: json.RawMessage(`{"status":"granted","noticeVersion":2}`),
		}
		if i == 0 {
			evs[i].Type, evs[i].Old, evs[i].Subject = "profile.created", nil, ""
		}
		ledger.Seal(prev, &evs[i])
		prev = evs[i].Hash
	}
	return evs
}

func TestSealSetsChain(t *testing.T) {
	evs := chain("", 3)
	hexRE := regexp.MustCompile(`^[0-9a-f]{64}$`)
	if evs[0].PrevHash != "" {
		t.Errorf("first PrevHash = %q, want the anchor", evs[0].PrevHash)
	}
	for i, e := range evs {
		if !hexRE.MatchString(e.Hash) {
			t.Errorf("event %d hash %q is not SHA-256 hex", i, e.Hash)
		}
		if i > 0 && e.PrevHash != evs[i-1].Hash {
			t.Errorf("event %d PrevHash does not link to event %d", i, i-1)
		}
	}
	// Sealing is deterministic.
	again := chain("", 3)
	for i := range evs {
		if again[i].Hash != evs[i].Hash {
			t.Errorf("event %d hash differs between two seals of the same content", i)
		}
	}
	// The hash does not depend on the Hash field's previous value.
	e := evs[1]
	e.Hash = "garbage"
	ledger.Seal(e.PrevHash, &e)
	if e.Hash != evs[1].Hash {
		t.Errorf("resealing changed the hash")
	}
}

func TestVerifyIntact(t *testing.T) {
	for _, anchor := range []string{"", chain("", 1)[0].Hash} {
		evs := chain(anchor, 5)
		if got := verify(anchor, evs); got != 0 {
			t.Errorf("Verify(anchor %q) = %d, want 0", anchor, got)
		}
		// A page that starts mid-chain verifies from its predecessor's hash.
		if got := verify(evs[1].Hash, evs[2:]); got != 0 {
			t.Errorf("Verify of a later page = %d, want 0", got)
		}
		if got := verify(anchor, nil); got != 0 {
			t.Errorf("Verify(no events) = %d, want 0", got)
		}
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	const n = 5
	tests := []struct {
		name   string
		anchor string // the prevHash given to Verify; "" unless set
		edit   func(evs []ledger.Event) []ledger.Event
		want   int64
	}{
		{"Old bytes changed", "", func(e []ledger.Event) []ledger.Event {
			e[2].Old = json.RawMessage(`{"status":"granted","noticeVersion":1}`)
			return e
		}, 3},
		{"Old removed", "", func(e []ledger.Event) []ledger.Event { e[2].Old = nil; return e }, 3},
		{"Old added where there was none", "", func(e []ledger.Event) []ledger.Event { e[0].Old = json.RawMessage(`{}`); return e }, 1},
		{"New bytes changed", "", func(e []ledger.Event) []ledger.Event {
			e[3].New = json.RawMessage(`{"status":"granted","noticeVersion":3}`)
			return e
		}, 4},
		{"New string escape changed", "", func(e []ledger.Event) []ledger.Event {
			e[3].New = json.RawMessage(`{"status":"gr\u0061nted","noticeVersion":2}`)
			return e
		}, 4},
		{"Type changed", "", func(e []ledger.Event) []ledger.Event { e[2].Type = "subscription.changed"; return e }, 3},
		{"Actor kind changed", "", func(e []ledger.Event) []ledger.Event { e[2].Actor.Kind = ledger.ActorPortal; return e }, 3},
		{"Actor id changed", "", func(e []ledger.Event) []ledger.Event { e[2].Actor.ID = "kother"; return e }, 3},
		{"At moved by a nanosecond", "", func(e []ledger.Event) []ledger.Event { e[2].At = e[2].At.Add(time.Nanosecond); return e }, 3},
		{"At moved by a day", "", func(e []ledger.Event) []ledger.Event { e[4].At = e[4].At.AddDate(0, 0, -1); return e }, 5},
		{"PrevHash changed", "", func(e []ledger.Event) []ledger.Event { e[2].PrevHash = e[0].Hash; return e }, 3},
		{"Hash changed", "", func(e []ledger.Event) []ledger.Event { e[2].Hash = e[1].Hash; return e }, 3},
		{"Subject changed", "", func(e []ledger.Event) []ledger.Event { e[2].Subject = "partners"; return e }, 3},
		{"NoticeVersion changed", "", func(e []ledger.Event) []ledger.Event { e[2].NoticeVersion = 1; return e }, 3},
		{"LegalBasis changed", "", func(e []ledger.Event) []ledger.Event { e[2].LegalBasis = "legitimate_interests"; return e }, 3},
		{"RequestID changed", "", func(e []ledger.Event) []ledger.Event { e[2].RequestID = "req-x"; return e }, 3},
		{"ID changed", "", func(e []ledger.Event) []ledger.Event { e[2].ID = "ev_x"; return e }, 3},
		{"Tenant changed", "", func(e []ledger.Event) []ledger.Event { e[2].Tenant = "evil"; return e }, 3},
		{"ProfileID changed", "", func(e []ledger.Event) []ledger.Event { e[2].ProfileID = "pr_2"; return e }, 3},
		// A changed Seq is detected; BrokenAt reports the number the event now carries.
		{"Seq changed", "", func(e []ledger.Event) []ledger.Event { e[2].Seq = 30; return e }, 30},
		{"first event tampered", "", func(e []ledger.Event) []ledger.Event { e[0].Type = "x"; return e }, 1},
		{"last event tampered", "", func(e []ledger.Event) []ledger.Event { e[4].Subject = "x"; return e }, 5},
		{"wrong anchor", "not-the-anchor", func(e []ledger.Event) []ledger.Event { return e }, 1},
		{"event deleted from the middle", "", func(e []ledger.Event) []ledger.Event { return slices.Delete(e, 2, 3) }, 4},
		{"first event deleted", "", func(e []ledger.Event) []ledger.Event { return e[1:] }, 2},
		{"two events swapped", "", func(e []ledger.Event) []ledger.Event { e[1], e[2] = e[2], e[1]; return e }, 3},
		{"chain reversed", "", func(e []ledger.Event) []ledger.Event { slices.Reverse(e); return e }, 5},
		{"event duplicated", "", func(e []ledger.Event) []ledger.Event { return slices.Insert(e, 2, e[1]) }, 2},
		{"forged event inserted", "", func(e []ledger.Event) []ledger.Event {
			forged := e[2]
			forged.Seq, forged.Type = 100, "consent.changed"
			forged.New = json.RawMessage(`{"status":"granted"}`)
			return slices.Insert(e, 2, forged)
		}, 100},
		// An inserted event sealed onto its predecessor verifies itself, but the original
		// successor no longer links to it.
		{"sealed event inserted", "", func(e []ledger.Event) []ledger.Event {
			ins := ledger.Event{Seq: 100, Type: "consent.changed", At: t0, Subject: "marketing", New: json.RawMessage(`{"status":"granted"}`)}
			ledger.Seal(e[1].Hash, &ins)
			return slices.Insert(e, 2, ins)
		}, 100}, // the sequence gap exposes the inserted event itself
		// Re-sealing one tampered event hides it from itself but not from its successor.
		{"tampered and resealed", "", func(e []ledger.Event) []ledger.Event {
			e[2].New = json.RawMessage(`{"status":"withdrawn"}`)
			ledger.Seal(e[2].PrevHash, &e[2])
			return e
		}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := tt.edit(chain("", n))
			if got := verify(tt.anchor, evs); got != tt.want {
				t.Errorf("Verify() = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestVerifyDetectsSeqTamperedToZero: Verify returns 0 both for "all events verify" and for
// "the event with Seq 0 does not verify". An attacker who edits a stored event and sets
// its Seq to 0 makes Verify report the whole chain intact.
func TestVerifyDetectsSeqTamperedToZero(t *testing.T) {
	tests := []struct {
		name string
		edit func(evs []ledger.Event) []ledger.Event
	}{
		{"content changed and seq zeroed", func(e []ledger.Event) []ledger.Event {
			e[2].New, e[2].Seq = json.RawMessage(`{"status":"granted","noticeVersion":2,"forged":true}`), 0
			return e
		}},
		{"forged seq-0 event inserted", func(e []ledger.Event) []ledger.Event {
			return slices.Insert(e, 1, ledger.Event{Seq: 0, Type: "consent.changed", New: json.RawMessage(`{}`)})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verify("", tt.edit(chain("", 5))); got == 0 {
				t.Errorf("Verify() = 0 (intact) for a tampered chain")
			}
		})
	}
}

// The hash covers the instant of At, not its time zone: an event sealed with a local time
// still verifies after a store normalizes it to UTC.
func TestVerifyIgnoresTimeZone(t *testing.T) {
	evs := chain("", 3)
	evs[1].At = evs[1].At.In(time.FixedZone("CEST", 2*3600))
	ledger.Seal(evs[0].Hash, &evs[1])
	ledger.Seal(evs[1].Hash, &evs[2])
	evs[1].At = evs[1].At.UTC()
	if got := verify("", evs); got != 0 {
		t.Errorf("Verify() = %d after moving At to UTC, want 0", got)
	}
	evs[1].At = evs[1].At.In(time.FixedZone("EST", -5*3600))
	if got := verify("", evs); got != 0 {
		t.Errorf("Verify() = %d after moving At to EST, want 0", got)
	}
}

// Deleting the newest events leaves a valid prefix: Verify cannot see it, only a
// comparison with the head hash recorded on the profile can (app.Service.Events does).
func TestVerifyTruncationNeedsHead(t *testing.T) {
	evs := chain("", 5)
	head := evs[4].Hash
	cut := evs[:3]
	if got := verify("", cut); got != 0 {
		t.Fatalf("Verify(prefix) = %d, want 0", got)
	}
	if cut[len(cut)-1].Hash == head {
		t.Errorf("truncated chain still ends at the head")
	}
	// Re-sealing everything after a tampered event also yields a self-consistent chain
	// that only the head reveals.
	evs[2].New = json.RawMessage(`{"status":"withdrawn"}`)
	for i := 2; i < len(evs); i++ {
		ledger.Seal(evs[i-1].Hash, &evs[i])
	}
	if got := verify("", evs); got != 0 {
		t.Fatalf("Verify(resealed) = %d, want 0", got)
	}
	if evs[4].Hash == head {
		t.Errorf("a rewritten chain ends at the original head")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		edit func(e *ledger.Event)
	}{
		{"plain", func(e *ledger.Event) {}},
		{"time in another zone", func(e *ledger.Event) { e.At = e.At.In(time.FixedZone("CEST", 2*3600)) }},
		{"time with monotonic reading", func(e *ledger.Event) { e.At = time.Now() }},
		{"Old with whitespace", func(e *ledger.Event) { e.Old = json.RawMessage("{ \"status\" :\n\t\"denied\" }") }},
		{"New with HTML characters", func(e *ledger.Event) { e.New = json.RawMessage(`{"name":"<b>Anna</b> & co"}`) }},
		{"New with unicode", func(e *ledger.Event) { e.New = json.RawMessage(`{"name":"Zażółć gęślą jaźń \u2028 😀"}`) }},
		{"New is a string", func(e *ledger.Event) { e.New = json.RawMessage(`"granted"`) }},
		{"New is null", func(e *ledger.Event) { e.New = json.RawMessage(`null`) }},
		{"Old and New empty", func(e *ledger.Event) { e.Old, e.New = nil, nil }},
		{"fields with quotes and control characters", func(e *ledger.Event) {
			e.Subject, e.RequestID, e.Type = "a\"b\\c\n", "req\x00\t", "x</script>"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := chain("", 3)
			tt.edit(&evs[1])
			for i := 1; i < len(evs); i++ {
				ledger.Seal(evs[i-1].Hash, &evs[i])
			}
			// Stored one by one, as the store writes them.
			var back []ledger.Event
			for _, e := range evs {
				b, err := json.Marshal(e)
				if err != nil {
					t.Fatalf("marshal: %v", err)
				}
				var got ledger.Event
				if err := json.Unmarshal(b, &got); err != nil {
					t.Fatalf("unmarshal: %v", err)
				}
				back = append(back, got)
			}
			if got := verify("", back); got != 0 {
				t.Errorf("Verify(after JSON round trip) = %d, want 0", got)
			}
			// And tampering after the round trip is still caught.
			back[1].Actor.ID = "kother"
			if got := verify("", back); got != 2 {
				t.Errorf("Verify(tampered after round trip) = %d, want 2", got)
			}
		})
	}
}

// FuzzSealedEventJSONRoundTrip seals an event built from arbitrary strings, stores it as
// JSON the way the store does, reads it back and verifies it.
func FuzzSealedEventJSONRoundTrip(f *testing.F) {
	f.Add("marketing", "consent.changed", "req-1", "granted", "denied", "", int64(0), []byte(`{"a":1}`))
	f.Add("", "", "", "", "", "prev", int64(1), []byte(nil))
	f.Add("<script>alert(1)</script>", "profile.created", "'; DROP TABLE ledger;--", "a&b<c>", "\u2028\u2029", "x", int64(-1), []byte(`[1, 2 ,3]`))
	f.Add("Zażółć gęślą jaźń", "consent.changed", "😀", "\x00\x01\x1f\x7f", "\"\\", "ab", int64(1<<62), []byte(" \"str\" "))
	f.Add("a\nb", "\t", "\r\n", "\ufffd", "\xff\xfe", "", int64(1700000000000000000), []byte(`{"k":"\u00e9"}`))
	long := string(make([]byte, 10000))
	f.Add(long, long, long, long, long, long, int64(42), []byte(`{"x":"`+long[:100]+`"}`))
	f.Fuzz(func(t *testing.T, subject, typ, requestID, oldS, newS, prev string, at int64, raw []byte) {
		old, err := json.Marshal(map[string]any{"status": oldS, "noticeVersion": len(oldS)})
		if err != nil {
			t.Fatal(err)
		}
		nw, err := json.Marshal(newS)
		if err != nil {
			t.Fatal(err)
		}
		e := ledger.Event{
			ID: "ev_1", Tenant: "acme", ProfileID: "pr_1", Seq: 1, Type: typ,
			At: time.Unix(0, at), Actor: ledger.Actor{Kind: ledger.ActorPortal, ID: requestID},
			RequestID: requestID, Subject: subject, NoticeVersion: len(subject), LegalBasis: "consent",
			Old: old, New: nw,
		}
		next := ledger.Event{Seq: 2, Type: "consent.changed", At: time.Unix(0, at), Subject: subject}
		if json.Valid(raw) {
			next.New = raw
		}
		ledger.Seal(prev, &e)
		ledger.Seal(e.Hash, &next)

		var back []ledger.Event
		for _, ev := range []ledger.Event{e, next} {
			b, err := json.Marshal(ev)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var got ledger.Event
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("unmarshal %s: %v", b, err)
			}
			back = append(back, got)
		}
		if got := verify(prev, back); got != 0 {
			t.Fatalf("Verify after JSON round trip = %d, want 0 (subject %q, type %q, request %q)", got, subject, typ, requestID)
		}
		// The content is covered by the hash.
		back[0].Subject += "x"
		if got := verify(prev, back); got != 1 {
			t.Fatalf("Verify with changed subject = %d, want 1", got)
		}
	})
}

// verify adapts ledger.Verify to the sequence number of the first broken event: 0 when
// the chain is intact, -1 when the broken event's sequence number is itself 0.
func verify(prev string, evs []ledger.Event) int64 {
	ok, i := ledger.Verify(prev, evs)
	switch {
	case ok:
		return 0
	case evs[i].Seq == 0:
		return -1
	}
	return evs[i].Seq
}

// A redacted event keeps its hash, and the chain after it verifies; a forged value or sum
// beside a redaction does not.
func TestRedactKeepsTheChain(t *testing.T) {
	evs := chain("", 4)
	want := evs[2].New
	ledger.Redact(&evs[2])
	if evs[2].Old != nil || evs[2].New != nil || !evs[2].Redacted() {
		t.Fatalf("Redact left values: %+v", evs[2])
	}
	if got := verify("", evs); got != 0 {
		t.Fatalf("Verify(redacted) = %d, want 0", got)
	}
	// Redacting again changes nothing.
	again := evs[2]
	ledger.Redact(&again)
	if again.OldSum != evs[2].OldSum || again.NewSum != evs[2].NewSum {
		t.Error("a second Redact changed the sums")
	}
	// Whoever holds the value can show it was the one recorded.
	back := evs[2]
	back.New, back.NewSum = want, ""
	evs2 := append([]ledger.Event(nil), evs...)
	evs2[2] = back
	if got := verify("", evs2); got != 0 {
		t.Errorf("Verify(value restored) = %d, want 0", got)
	}
	forged := evs[2]
	forged.New = json.RawMessage(`{"status":"withdrawn","noticeVersion":2}`)
	evs3 := append([]ledger.Event(nil), evs...)
	evs3[2] = forged
	if got := verify("", evs3); got != 3 {
		t.Errorf("Verify(value beside its sum) = %d, want 3", got)
	}
	wrong := evs[2]
	wrong.NewSum = strings.Repeat("0", 64)
	evs4 := append([]ledger.Event(nil), evs...)
	evs4[2] = wrong
	if got := verify("", evs4); got != 3 {
		t.Errorf("Verify(sum changed) = %d, want 3", got)
	}
}
