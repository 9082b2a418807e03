package httpapi_test

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/httpapi"
)

// TestReplaysAnswerAsTheFirstTime: for every kind of stored outcome (a profile write's,
// a request's, the catalog's, and an answer the edge stores itself) a replay with the same
// Idempotency-Key gets the first answer again, status, headers and body, byte for byte.
func TestReplaysAnswerAsTheFirstTime(t *testing.T) {
	a := api()
	id := createdProfile(t)
	rq := invoke(t, a.CreateRequest(), req{tenant: tenant, scopes: admin, body: `{"profileId":"` + id + `","type":"rectification"}`})
	if rq.StatusCode != 201 {
		t.Fatalf("request: %d %s", rq.StatusCode, rq.Body)
	}
	var created struct{ ID string }
	_ = json.Unmarshal([]byte(rq.Body), &created)
	cases := []struct {
		name   string
		h      httpapi.Handler
		r      req
		status int
	}{
		{"profile created", a.CreateProfile(), req{body: `{"identities":[{"type":"email","value":"` + testenv.Unique("r") + `@example.com"}]}`}, 201},
		{"consent written", a.PutConsent(), req{params: map[string]string{"id": id, "purpose": "marketing"}, body: `{"status":"granted","noticeVersion":2}`}, 200},
		{"request created", a.CreateRequest(), req{body: `{"profileId":"` + createdProfile(t) + `","type":"rectification"}`}, 201},
		{"request cancelled", a.CancelRequest(), req{params: map[string]string{"id": created.ID}}, 200},
		{"catalog replaced", a.PutCatalog(), req{body: string(seed.DemoCatalog)}, 200},
		{"sync answered by the edge", a.Sync(), req{body: `{"source":"crm","changes":[{"id":"c1","identity":{"type":"email","value":"` +
			testenv.Unique("s") + `@example.com"},"occurredAt":"2026-01-01T00:00:00Z","attributes":{"givenName":"Ewa"}}]}`}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.r.tenant, c.r.scopes = tenant, admin
			c.r.headers = map[string]string{"Idempotency-Key": testenv.Unique("k")}
			first := invoke(t, c.h, c.r)
			if first.StatusCode != c.status {
				t.Fatalf("first: %d %s", first.StatusCode, first.Body)
			}
			again := invoke(t, c.h, c.r)
			if again.Headers["Idempotent-Replayed"] != "true" || first.Headers["Idempotent-Replayed"] != "" {
				t.Fatalf("Idempotent-Replayed: first %q, again %q", first.Headers["Idempotent-Replayed"], again.Headers["Idempotent-Replayed"])
			}
			if again.StatusCode != first.StatusCode || again.Body != first.Body || !sameHeaders(first, again) {
				t.Fatalf("replay answered %d %v\n%s\nnot the first answer %d %v\n%s", again.StatusCode, again.Headers, again.Body,
					first.StatusCode, first.Headers, first.Body)
			}
		})
	}
}

func sameHeaders(a, b events.APIGatewayV2HTTPResponse) bool {
	ha, hb := maps.Clone(a.Headers), maps.Clone(b.Headers)
	delete(hb, "Idempotent-Replayed")
	return maps.Equal(ha, hb)
}
