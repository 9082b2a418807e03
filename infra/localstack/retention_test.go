package localstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/retention"
	"github.com/livingprofile/livingprofile/shared/retention/sweeper"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// retentionRig is a tenant of its own with a retention catalog, the use cases and the
// retention job on a controllable clock, and an admin key (role "retention").
type retentionRig struct {
	tenant  string
	clk     *sweepClock
	st      *dynamo.Store
	svc     *app.Service
	job     *sweeper.Job
	counter *ddbCounter // the job's DynamoDB requests
}

func newRetentionRig(t *testing.T) *retentionRig {
	t.Helper()
	ctx := context.Background()
	r := &retentionRig{tenant: fmt.Sprintf("rt-%d", time.Now().UnixNano()), clk: &sweepClock{}, st: dynamo.New(env.db, env.stack.Table)}
	r.svc = app.New(r.st, r.clk.now, 0)
	r.counter = &ddbCounter{counts: map[string]map[string]int{}}
	counted := dynamo.New(dynamodb.NewFromConfig(env.stack.AWS.AWS, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, r.counter.option) }), env.stack.Table)
	r.job = sweeper.New(counted, app.New(counted, r.clk.now, 0), slog.New(slog.NewJSONHandler(io.Discard, nil)), r.clk.now)
	if err := seed.Tenant(ctx, r.st, r.tenant, r.tenant); err != nil {
		t.Fatal(err)
	}
	plain, _, err := seed.Key(ctx, r.st, r.tenant, "retention", []apikey.Scope{apikey.Admin})
	if err != nil {
		t.Fatal(err)
	}
	env.keys["retention"] = plain
	r.clk.at("2026-01-01T09:00:00Z")
	r.catalog(t, func(c *catalog.Catalog) {})
	return r
}

// catalog publishes the demo catalog with the test's retention: marketing (consent) keeps
// its data 30 days after the consent ends, nothing else has a purpose retention, profiles
// are kept a year after their last activity; edit changes it further.
func (r *retentionRig) catalog(t *testing.T, edit func(c *catalog.Catalog)) {
	t.Helper()
	c, err := seed.ParseCatalog(seed.DemoCatalog)
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.Purposes {
		c.Purposes[i].RetentionDays = 0
		if c.Purposes[i].ID == "marketing" {
			c.Purposes[i].RetentionDays = 30
		}
	}
	for i := range c.Attributes {
		switch c.Attributes[i].Name {
		case "shoe_size":
			c.Attributes[i].Purposes = []string{"marketing"}
		case "loyalty_tier":
			c.Attributes[i].Purposes = []string{"marketing", "service"}
		}
	}
	c.Retention = catalog.RetentionSettings{InactiveDays: 365}
	edit(c)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.LoadCatalog(context.Background(), r.svc, r.tenant, b); err != nil {
		t.Fatal(err)
	}
}

var brandWrite = app.Write{Actor: ledger.Actor{Kind: ledger.ActorAPIKey, ID: "retention-test"}}

// person creates a profile with an email, the three attributes retention rules differ on,
// marketing granted and the newsletter subscribed.
func (r *retentionRig) person(t *testing.T, name string) string {
	t.Helper()
	res, err := r.svc.CreateProfile(context.Background(), r.tenant, app.Create{
		Identities: []app.IdentityInput{{Type: "email", Value: name + "@example.com"}},
		Patch:      app.Patch{Attributes: map[string]any{"shoe_size": 44.5, "loyalty_tier": "gold-" + name[len(name)-6:], "birth_date": "1990-02-03", "givenName": "Name-" + name}},
		Consents:   map[string]profile.ConsentInput{"marketing": {Status: profile.Granted, NoticeVersion: 2}},
		Subscriptions: map[string]profile.SubscriptionInput{"newsletter": {Status: profile.Subscribed},
			"orders": {Status: profile.Subscribed}},
	}, brandWrite)
	if err != nil {
		e, _ := errs.As(err)
		t.Fatalf("create: %v %+v", err, e.Fields)
	}
	return res.Profile.ID
}

func (r *retentionRig) profile(t *testing.T, id string) *profile.Profile {
	t.Helper()
	p, err := r.st.Profile(context.Background(), r.tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (r *retentionRig) run(t *testing.T) *retention.Run {
	t.Helper()
	run, err := r.job.Run(context.Background(), r.tenant)
	if err != nil {
		t.Fatalf("retention run: %v", err)
	}
	return run
}

// rule returns the report of one rule of a run.
func rule(t *testing.T, run *retention.Run, name string) retention.RuleReport {
	t.Helper()
	for _, r := range run.Rules {
		if r.Rule+":"+r.Purpose == name {
			return r
		}
	}
	t.Fatalf("run %s has no rule %s: %+v", run.ID, name, run.Rules)
	return retention.RuleReport{}
}

// ledgerText is every stored ledger event of the profile, as stored.
func ledgerText(t *testing.T, tenant, id string) string {
	t.Helper()
	out, err := env.db.Query(context.Background(), &dynamodb.QueryInput{
		TableName: &env.stack.Table, KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :e)"), ConsistentRead: aws.Bool(true),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: "T#" + tenant + "#P#" + id}, ":e": &types.AttributeValueMemberS{Value: "E#"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, it := range out.Items {
		b.WriteString(it["doc"].(*types.AttributeValueMemberS).Value + "\n")
	}
	return b.String()
}

func (r *retentionRig) verified(t *testing.T, id string) {
	t.Helper()
	page, err := r.svc.Events(context.Background(), r.tenant, id, 0, 100)
	if err != nil || !page.Verified {
		t.Fatalf("the ledger of %s does not verify (broken at %d): %v", id, page.BrokenAt, err)
	}
}

func docOf(t *testing.T, p *profile.Profile) string {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRetention drives the retention job with a controllable clock against the emulator:
// a dry run reports and changes nothing, however often; enforced, it erases exactly the
// data past retention (a withdrawn consent's purpose data, from the profile and from its
// ledger's values, with the chain still verifying and a retention.erased event to the
// brand), files an erasure request for a profile inactive past the limit that the erasure
// job carries out without suppressing the person, anonymises where the catalog says so, and
// touches nothing outside retention.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	r := newRetentionRig(t)
	rc := newReceiver(t)
	res := must(t, do(t, call{method: "POST", path: "/v1/webhooks", key: "retention",
		body: map[string]any{"url": rc.srv.URL + "/hook", "eventTypes": []string{"retention.erased", "profile.anonymised"}}}), 201).json(t)
	rc.mu.Lock()
	rc.secret = res["secret"].(string)
	rc.mu.Unlock()
	t.Cleanup(func() { do(t, call{method: "DELETE", path: "/v1/webhooks/" + res["id"].(string), key: "retention"}) })

	kept := r.person(t, "rt-kept-"+letters(6))         // keeps its consent, stays active
	withdrew := r.person(t, "rt-withdrew-"+letters(6)) // withdraws marketing on day 0
	idleEmail := "rt-idle-" + letters(6)
	idle := r.person(t, idleEmail) // never heard of again
	if _, err := r.svc.PutConsent(ctx, r.tenant, withdrew, "marketing", profile.ConsentInput{Status: profile.Withdrawn, NoticeVersion: 2}, brandWrite); err != nil {
		t.Fatal(err)
	}
	before := r.profile(t, withdrew)
	ledgerBefore := ledgerText(t, r.tenant, withdrew)
	if !strings.Contains(ledgerBefore, "44.5") || !strings.Contains(ledgerBefore, `"newsletter"`) {
		t.Fatalf("the ledger does not hold the values before retention:\n%s", ledgerBefore)
	}

	// Day 29: nothing is due yet.
	r.clk.at("2026-01-30T09:00:00Z")
	if run := r.run(t); rule(t, run, "purpose:marketing").Due != 0 || !run.DryRun {
		t.Fatalf("day 29: %+v", run.Rules)
	}
	// Day 31: the dry run reports the withdrawn profile, twice alike, and changes nothing.
	// It finds it through the index: per rule (marketing's consent ends, inactivity) one
	// Query per shard, then the catalog, the watermarks and the one profile a marker names;
	// the report is saved twice (before acting, and done). Never a Scan.
	r.clk.at("2026-02-01T09:00:00Z")
	r.counter.take("(no function)")
	for i := range 2 {
		run := r.run(t)
		got, want := r.counter.take("(no function)"), map[string]int{"Query": 2 * r.st.RetentionShards(), "GetItem": 3, "PutItem": 2}
		if i == 0 && !maps.Equal(got, want) {
			t.Errorf("a dry run's DynamoDB requests = %v, want %v", got, want)
		}
		m := rule(t, run, "purpose:marketing")
		if !run.DryRun || run.Status != retention.Completed || m.Due != 1 || !slices.Equal(m.Profiles, []string{withdrew}) || m.Done != 0 {
			t.Fatalf("dry run: %+v", run)
		}
		if in := rule(t, run, "inactive:"); in.Due != 0 {
			t.Fatalf("dry run found inactive profiles on day 31: %+v", in)
		}
	}
	if got := r.profile(t, withdrew); docOf(t, got) != docOf(t, before) || ledgerText(t, r.tenant, withdrew) != ledgerBefore {
		t.Fatal("a dry run changed the profile or its ledger")
	}
	runs := must(t, do(t, call{method: "GET", path: "/v1/retention-runs?limit=2", key: "retention"}), 200).json(t)["runs"].([]any)
	if len(runs) != 2 || runs[0].(map[string]any)["dryRun"] != true {
		t.Fatalf("GET /v1/retention-runs = %v", runs)
	}

	// Enforced: the withdrawn profile loses its marketing data, and nothing else.
	keptBefore, idleBefore := docOf(t, r.profile(t, kept)), docOf(t, r.profile(t, idle))
	r.catalog(t, func(c *catalog.Catalog) { c.Retention.Enforce = true })
	run := r.run(t)
	if m := rule(t, run, "purpose:marketing"); run.DryRun || run.Status != retention.Completed || m.Done != 1 || m.Failed != 0 {
		t.Fatalf("enforced run: %+v", run)
	}
	after := r.profile(t, withdrew)
	if _, ok := after.Consents["marketing"]; ok {
		t.Error("the withdrawn consent is kept")
	}
	if _, ok := after.Subscriptions["newsletter"]; ok {
		t.Error("the newsletter subscription is kept")
	}
	if _, ok := after.Attributes["shoe_size"]; ok {
		t.Error("shoe_size (collected only for marketing) is kept")
	}
	for _, name := range []string{"loyalty_tier", "birth_date", "givenName"} {
		if after.Attributes[name] != before.Attributes[name] {
			t.Errorf("%s changed: %v -> %v", name, before.Attributes[name], after.Attributes[name])
		}
	}
	if _, ok := after.Subscriptions["orders"]; !ok || !slices.Equal(after.Identities, before.Identities) || !after.ActiveAt.Equal(before.ActiveAt) {
		t.Error("retention changed data of another purpose, the identities or the activity time")
	}
	text := ledgerText(t, r.tenant, withdrew)
	if strings.Contains(text, "44.5") || strings.Contains(text, `"status":"withdrawn"`) || !strings.Contains(text, `"newSum"`) {
		t.Errorf("the ledger still holds erased values:\n%s", text)
	}
	r.verified(t, withdrew)
	if docOf(t, r.profile(t, kept)) != keptBefore || docOf(t, r.profile(t, idle)) != idleBefore {
		t.Error("retention touched a profile with nothing past retention")
	}
	eventually(t, 20*time.Second, "the retention.erased event at the brand", func() bool {
		return slices.ContainsFunc(rc.events(), func(e webhook.Event) bool { return e.Type == retention.EventErased && e.ProfileID == withdrew })
	})
	// Again: nothing new is due, nothing changes.
	v := r.profile(t, withdrew).Version
	if run := r.run(t); rule(t, run, "purpose:marketing").Due != 0 || r.profile(t, withdrew).Version != v {
		t.Fatalf("second enforced run: %+v", run.Rules)
	}

	// Day 200: the kept and the withdrawn person are active again; day 366: only the idle
	// one is past the year, and is erased by an erasure request, without being suppressed.
	r.clk.at("2026-07-20T09:00:00Z")
	for _, id := range []string{kept, withdrew} {
		if _, err := r.svc.UpdateProfile(ctx, r.tenant, id, app.Patch{Attributes: map[string]any{"vip": true}}, brandWrite); err != nil {
			t.Fatal(err)
		}
	}
	r.clk.at("2027-01-02T09:00:00Z")
	run = r.run(t)
	in := rule(t, run, "inactive:")
	if in.Due != 1 || !slices.Equal(in.Profiles, []string{idle}) || in.Done != 1 {
		t.Fatalf("inactive rule: %+v", in)
	}
	reqs, err := r.st.OpenRequests(ctx, r.tenant, r.clk.now().AddDate(1, 0, 0), 10)
	if err != nil {
		t.Fatal(err)
	}
	var erasure *dsr.Request
	for i := range reqs {
		if reqs[i].ProfileID == idle && reqs[i].Type == dsr.Erasure {
			erasure = &reqs[i]
		}
	}
	if erasure == nil || erasure.Source != retention.Actor {
		t.Fatalf("no erasure request by retention for the idle profile: %+v", reqs)
	}
	eventually(t, 90*time.Second, "the retention erasure to complete", func() bool {
		got, err := r.st.Request(ctx, r.tenant, erasure.ID)
		if err == nil && got.Status == dsr.Failed {
			t.Fatalf("the erasure failed: %s", got.Failure)
		}
		return err == nil && got.Status == dsr.Completed
	})
	if _, err := r.st.Profile(ctx, r.tenant, idle); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("the idle profile is still there: %v", err)
	}
	// Not suppressed: the person may come back.
	if _, err := r.svc.CreateProfile(ctx, r.tenant, app.Create{Identities: []app.IdentityInput{{Type: "email", Value: idleEmail + "@example.com"}}}, brandWrite); err != nil {
		t.Errorf("the erased idle person cannot sign up again: %v", err)
	}
	if run := r.run(t); rule(t, run, "inactive:").Due != 0 {
		t.Errorf("the inactive rule finds more after the erasure: %+v", run.Rules)
	}

	// Anonymise instead, a year after day 200: both are anonymised, with no identity, no
	// attribute and no value in the ledger, the chain verifying and the brand told.
	r.catalog(t, func(c *catalog.Catalog) {
		c.Retention = catalog.RetentionSettings{InactiveDays: 365, InactiveAction: catalog.Anonymise, Enforce: true}
	})
	r.clk.at("2027-07-21T09:00:00Z")
	run = r.run(t)
	if in := rule(t, run, "inactive:"); in.Due != 2 || in.Done != 2 {
		t.Fatalf("anonymising run: %+v", in)
	}
	for _, id := range []string{kept, withdrew} {
		p := r.profile(t, id)
		if len(p.Identities) != 0 || len(p.Attributes) != 0 || p.AnonymisedAt == nil {
			t.Errorf("%s is not anonymised: %+v", id, p)
		}
		text := ledgerText(t, r.tenant, id)
		if strings.Contains(text, "@example.com") || strings.Contains(text, "Name-rt-") || strings.Contains(text, "gold-") ||
			strings.Contains(text, "1990-02-03") || strings.Contains(text, `"old":`) || strings.Count(text, `"new":`) != 1 {
			t.Errorf("the ledger of anonymised %s still holds values:\n%s", id, text)
		}
		r.verified(t, id)
	}
	if _, err := r.st.ProfileByIdentity(ctx, r.tenant, before.Identities[0]); errs.CodeOf(err) != errs.NotFound {
		t.Errorf("an anonymised profile is still found by its email: %v", err)
	}
	eventually(t, 20*time.Second, "the profile.anonymised events at the brand", func() bool {
		n := 0
		for _, e := range rc.events() {
			if e.Type == retention.EventAnonymised {
				n++
			}
		}
		return n == 2
	})
	if run := r.run(t); rule(t, run, "inactive:").Due != 0 {
		t.Errorf("anonymised profiles are due again: %+v", run.Rules)
	}
}
