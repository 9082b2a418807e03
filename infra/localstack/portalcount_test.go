package localstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// pageBudget is, per signed-in portal page, the DynamoDB requests one GET makes, by
// operation. A page reads what it needs in one BatchGetItem: on a warm container whether the
// session was revoked and the person's profile; on a cold one also the brand, the catalog
// and the key that minted the session's link. The overview and the rights page also list
// the person's requests, beside that read (a Query of the pointers; a person with requests
// adds a BatchGetItem of them, this one has none); the history reads a page of the ledger,
// from the head of the profile already read.
var pageBudget = map[string]map[string]int{
	"PortalOverview":      {"BatchGetItem": 1, "Query": 1},
	"PortalDetails":       {"BatchGetItem": 1},
	"PortalSubscriptions": {"BatchGetItem": 1},
	"PortalConsents":      {"BatchGetItem": 1},
	"PortalRights":        {"BatchGetItem": 1, "Query": 1},
	"PortalHistory":       {"BatchGetItem": 1, "Query": 1},
}

// TestPortalRequestCounts opens a session by a brand's link and asserts the DynamoDB requests
// of each signed-in page, as TestRequestCounts does for the brand routes.
func TestPortalRequestCounts(t *testing.T) {
	ctx := context.Background()
	st, counter, store, svc := countedStack(t, "pc", nil)
	key, _, err := seed.Key(ctx, store, tenant, "links", []apikey.Scope{apikey.PortalLinks})
	if err != nil {
		t.Fatal(err)
	}
	created, err := svc.CreateProfile(ctx, tenant, app.Create{
		Identities: []app.IdentityInput{{Type: "email", Value: fmt.Sprintf("pages-%d@example.com", time.Now().UnixNano())},
			{Type: "customer_id", Value: fmt.Sprintf("pages-%d", time.Now().UnixNano())}},
		Consents:      map[string]profile.ConsentInput{"marketing": {Status: profile.Granted, NoticeVersion: 2}},
		Subscriptions: map[string]profile.SubscriptionInput{"newsletter": {Status: profile.Subscribed}},
	}, app.Write{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"profileId": created.Profile.ID})
	req, _ := http.NewRequest(http.MethodPost, st.URL+"/v1/portal-links", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var minted struct {
		URL string `json:"url"`
	}
	err = json.NewDecoder(resp.Body).Decode(&minted)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("portal link: %d %v", resp.StatusCode, err)
	}
	b := &portalClient{t: t, cookies: map[string]string{}}
	landing := wantStatus(t, b.do("GET", minted.URL, nil), 200)
	wantStatus(t, b.do("POST", minted.URL, url.Values{"csrf": {b.csrf(landing)}}), 303)
	pages := map[string]string{"PortalOverview": "", "PortalDetails": "/details", "PortalSubscriptions": "/subscriptions",
		"PortalConsents": "/consents", "PortalRights": "/rights", "PortalHistory": "/history"}
	for fn, path := range pages {
		t.Run(fn, func(t *testing.T) {
			page := st.URL + "/portal/" + tenant + path
			counter.take(fn)
			for _, start := range []string{"cold", "warm"} {
				wantStatus(t, b.do("GET", page, nil), 200)
				if got := counter.take(fn); !maps.Equal(got, pageBudget[fn]) {
					t.Errorf("GET %s on a %s container made %v, want %v", path, start, got, pageBudget[fn])
				}
			}
		})
	}
	// Removing an identity from the details page reads the page once and commits once (the
	// identity's item deleted inside the profile's transaction).
	t.Run("PortalDetails removes an identity", func(t *testing.T) {
		page := wantStatus(t, b.do("GET", st.URL+"/portal/"+tenant+"/details", nil), 200)
		counter.take("PortalDetails")
		id := created.Profile.Identities[1]
		wantStatus(t, b.do("POST", st.URL+"/portal/"+tenant+"/details/identities",
			url.Values{"csrf": {b.csrf(page)}, "identity": {id.String()}}), 303)
		want := map[string]int{"BatchGetItem": 1, "TransactWriteItems": 1}
		if got := counter.take("PortalDetails"); !maps.Equal(got, want) {
			t.Errorf("POST /details/identities made %v, want %v", got, want)
		}
	})
	if err := st.CheckPolicies(); err != nil {
		t.Error(err)
	}
}

// TestPrivacyRequestCounts: the public transparency page (and its JSON) reads the tenant and
// the catalog in one BatchGetItem on a cold container and nothing on a warm one, which has
// both cached.
func TestPrivacyRequestCounts(t *testing.T) {
	st, counter, _, _ := countedStack(t, "pv", nil)
	b := &portalClient{t: t, cookies: map[string]string{}}
	counter.take("PortalPrivacy")
	for i, want := range []map[string]int{{"BatchGetItem": 1}, {}, {}} {
		path := []string{"/privacy", "/privacy?lang=pl", "/privacy.json"}[i]
		wantStatus(t, b.do("GET", st.URL+"/portal/"+tenant+path, nil), 200)
		if got := counter.take("PortalPrivacy"); !maps.Equal(got, want) {
			t.Errorf("GET %s (request %d) made %v, want %v", path, i+1, got, want)
		}
	}
	if err := st.CheckPolicies(); err != nil {
		t.Error(err)
	}
}
