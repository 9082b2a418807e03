package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

const benchTenant = "bench"

// operator is the actor of the bench's own writes through the use cases.
var operator = app.Write{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "bench"}}

// fixture is the seeded data the measured requests use.
type fixture struct {
	keys, keyIDs map[apikey.Scope]string // the secret and the id of the API key of each scope
	ids, emails  []string
	granted      []bool // marketing consent, flipped by the writers (see owned)
}

// owned is worker w's k-th profile of those with index%workers == w: no two write one profile.
func (f *fixture) owned(w, workers, k int) int { return (k%(len(f.ids)/workers))*workers + w }

// flip flips the tracked consent of profile i and returns the status that makes it so.
func (f *fixture) flip(i int) profile.ConsentStatus {
	f.granted[i] = !f.granted[i]
	return consentStatus[f.granted[i]]
}

var consentStatus = map[bool]profile.ConsentStatus{true: profile.Granted, false: profile.Withdrawn}

// seedFixture creates the tenant, the demo catalog, a key per scope and the profiles (every
// other one with marketing consent) through the use cases.
func seedFixture(ctx context.Context, store *dynamo.Store) (*fixture, error) {
	svc := app.New(store, time.Now, 0)
	if err := seed.Tenant(ctx, store, benchTenant, "Bench"); err != nil {
		return nil, fmt.Errorf("seed tenant: %w", err)
	}
	if _, err := seed.LoadCatalog(ctx, svc, benchTenant, seed.DemoCatalog); err != nil {
		return nil, fmt.Errorf("seed catalog: %w", err)
	}
	f := &fixture{keys: map[apikey.Scope]string{}, keyIDs: map[apikey.Scope]string{}}
	for _, scope := range []apikey.Scope{apikey.Read, apikey.Write, apikey.Admin, apikey.Requests, apikey.PortalLinks} {
		scopes := []apikey.Scope{scope}
		if scope == apikey.Requests {
			// Attested requests (no emailed confirmation); read shows the export's download link.
			scopes = append(scopes, apikey.Attest, apikey.Read)
		}
		secret, key, err := seed.Key(ctx, store, benchTenant, "bench-"+string(scope), scopes)
		if err != nil {
			return nil, fmt.Errorf("seed %s key: %w", scope, err)
		}
		f.keys[scope], f.keyIDs[scope] = secret, key.ID
	}
	stamp := time.Now().UnixNano()
	for i := range profiles {
		email := fmt.Sprintf("bench-%d-%d@example.com", stamp, i)
		in := app.Create{Identities: []app.IdentityInput{{Type: "email", Value: email}}}
		if i%2 == 0 {
			in.Consents = map[string]profile.ConsentInput{"marketing": {Status: profile.Granted, NoticeVersion: 2, Locale: "en"}}
		}
		res, err := svc.CreateProfile(ctx, benchTenant, in, operator)
		if err != nil {
			return nil, fmt.Errorf("seed profile %d: %w", i, err)
		}
		f.ids, f.emails, f.granted = append(f.ids, res.Profile.ID), append(f.emails, email), append(f.granted, i%2 == 0)
	}
	return f, nil
}

// operation is one kind of API request the bench measures.
type operation struct {
	name   string
	checks int // consent checks one request answers (0 for other operations)
	// do sends worker w's k-th request (k counts from 0 per worker, warm-up included).
	do func(ctx context.Context, b *bench, w, k int) error
}

// checkOp checks n profiles per request (1: the single form), by id or, where byEmail, by email.
func checkOp(name string, n int, byEmail func(j int) bool) operation {
	return operation{name: name, checks: n, do: func(ctx context.Context, b *bench, w, k int) error {
		f, specs := b.fix, make([]map[string]any, n)
		for j := range specs {
			i := ((k*b.cfg.clients+w)*n + j) % len(f.ids)
			specs[j] = map[string]any{"profileId": f.ids[i], "purpose": "marketing"}
			if byEmail(j) {
				specs[j] = map[string]any{"identity": map[string]string{"type": "email", "value": f.emails[i]}, "purpose": "marketing"}
			}
		}
		var body any = map[string]any{"checks": specs}
		if n == 1 {
			body = specs[0]
		}
		return b.c.call(ctx, http.MethodPost, "/v1/consent-checks", f.keys[apikey.Read], body, http.StatusOK, nil)
	}}
}

// consentWrite flips the marketing consent of worker w's k-th owned profile through the HTTP API.
func consentWrite(ctx context.Context, b *bench, w, k int) error {
	i := b.fix.owned(w, b.cfg.clients, k)
	return b.c.call(ctx, http.MethodPut, "/v1/profiles/"+b.fix.ids[i]+"/consents/marketing", b.fix.keys[apikey.Write],
		map[string]any{"status": b.fix.flip(i), "noticeVersion": 2}, http.StatusOK, nil)
}

var checkByID = checkOp("consent check by id", 1, func(int) bool { return false })

var operations = []operation{
	checkByID,
	checkOp("consent check by identity (email)", 1, func(int) bool { return true }),
	checkOp(fmt.Sprintf("batch of %d checks (ids + emails)", batch), batch, func(j int) bool { return j%2 == 1 }),
	{name: "profile read (GET /v1/profiles/{id})", do: func(ctx context.Context, b *bench, w, k int) error {
		return b.c.call(ctx, http.MethodGet, "/v1/profiles/"+b.fix.ids[(k*b.cfg.clients+w)%len(b.fix.ids)], b.fix.keys[apikey.Read], nil, http.StatusOK, nil)
	}},
	{name: "consent write (PUT .../consents/marketing)", do: consentWrite},
}

// client sends JSON requests with a bearer key to the stack's HTTP API.
type client struct {
	url string
	*http.Client
}

// call sends a request, fails unless the answer has status want and decodes it into out (if not nil).
func (c *client) call(ctx context.Context, method, path, key string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return err
	case resp.StatusCode != want:
		return fmt.Errorf("%s %s answered %d: %.300s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	case out != nil:
		return json.Unmarshal(b, out)
	}
	return nil
}

// apiBench times each operation through the HTTP API and counts the handlers' DynamoDB requests.
func apiBench(ctx context.Context, b *bench, w io.Writer) error {
	cfg := b.cfg
	note(w, "%d requests per operation from %d clients after %d warm-up ones; %d profiles, half with marketing consent.",
		cfg.requests, cfg.clients, cfg.warmup, profiles)
	note(w, "DynamoDB requests: HTTP requests the handlers' SDK clients sent (retries included) per operation.")
	rows := []string{"operation\tp50 ms\tp99 ms\tops/s\terrors\tDynamoDB requests per operation"}
	defer func() { fmt.Fprintln(w); table(w, rows...) }()
	for _, op := range operations {
		seq := make([]int, cfg.clients)
		call := func(w, k int) error { return op.do(ctx, b, w, k) }
		warm := load(cfg.warmup, seq, call)
		var l loadResult
		m, _ := counted(func() error { l = load(cfg.requests, seq, call); return nil })
		d, n := distOf(l.lat), len(l.lat)
		ddb := formatCounts(m.attempts, n, 3)
		if op.checks > 1 {
			ddb += fmt.Sprintf("  (%.4f per check)", float64(total(m.attempts))/float64(n*op.checks))
		}
		if retries := total(m.attempts) - total(m.calls); retries > 0 {
			ddb += fmt.Sprintf("  incl. %.3f retries", float64(retries)/float64(n))
		}
		rows = append(rows, fmt.Sprintf("%s\t%.2f\t%.2f\t%.0f\t%d\t%s", op.name, d.P50, d.P99, l.rate(), len(l.errs)+len(warm.errs), ddb))
		if err := cmp.Or(warm.err(), l.err(), ctx.Err()); err != nil {
			return fmt.Errorf("%s: %w", op.name, err)
		}
	}
	return nil
}

// throughput measures consent checks through the HTTP API beside replays of their BatchGetItem
// inputs straight to the emulator.
func throughput(ctx context.Context, b *bench, w io.Writer) error {
	cfg := b.cfg
	check := func(w, k int) error { return checkByID.do(ctx, b, w, k) }
	m, err := counted(func() error {
		for i := range 64 { // profiles 0 to 63
			if err := check(i%cfg.clients, i/cfg.clients); err != nil {
				return err
			}
		}
		return nil
	})
	inputs := inputsOf[*dynamodb.BatchGetItemInput](m.inputs)
	if err == nil && len(inputs) == 0 {
		err = errors.New("64 consent checks made no BatchGetItem call to replay")
	}
	if err != nil {
		return err
	}
	names := [2]string{"consent checks via HTTP", "raw BatchGetItem"}
	do := [2]func(w, k int) error{check, func(_, k int) error {
		_, err := b.db.BatchGetItem(ctx, inputs[k%len(inputs)])
		return err
	}}
	seqs := [2][]int{make([]int, cfg.clients), make([]int, cfg.clients)}
	rounds, err := alternate(2, cfg.warmup, cfg.requests, func(i, n int, _ bool) (loadResult, error) {
		l := load(n, seqs[i], do[i])
		return l, l.err()
	})
	if err != nil {
		return err
	}
	note(w, "%d requests per variant from %d clients, in two rounds of alternating order after warm-up.", cfg.requests, cfg.clients)
	note(w, "Raw: the BatchGetItem inputs of 64 checks by id (%d), replayed by a plain SDK client straight to the emulator.", len(inputs))
	var rate [2]float64
	var rows []string
	for i, name := range names {
		l := sum(rounds[i])
		d := distOf(l.lat)
		rate[i] = l.rate()
		rows = append(rows, fmt.Sprintf("%s\t%.0f /s\tp50 %.2f ms\tp99 %.2f ms", name, rate[i], d.P50, d.P99))
	}
	table(w, rows...)
	note(w, "ratio checks/s : BatchGetItem/s = %.2f (the stack keeps %.0f%% of the emulator's rate)", rate[0]/rate[1], 100*rate[0]/rate[1])
	return nil
}
