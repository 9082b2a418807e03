// Command dev runs the whole product locally (`make dev`): the embedded AWS emulator, every
// resource and route of template.yaml, and a seeded demo tenant. It writes what a developer
// needs to .local/dev.json and runs until interrupted; LP_DATA_DIR (the Makefile sets it)
// keeps the data across restarts, kill -9 included. Emails the functions send never leave
// the machine: dev logs each new one and the API listener shows them at /_local/mail.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/infra/localaws"
	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/errs"
)

// Info is what .local/dev.json holds.
type Info struct {
	APIBaseURL       string `json:"apiBaseUrl"`
	APIKey           string `json:"apiKey"`
	APIKeyID         string `json:"apiKeyId"`
	Tenant           string `json:"tenant"`
	DemoProfileID    string `json:"demoProfileId"`
	PortalLink       string `json:"portalLink"`
	EmulatorEndpoint string `json:"emulatorEndpoint"`
	Region           string `json:"region"`
	Table            string `json:"table"`
	// MailPage lists the captured emails; empty when not running the embedded emulator.
	MailPage string `json:"mailPage,omitempty"`
}

const demoTenant = "demo"

// SAMEnvFile is written beside dev.json: the --env-vars file of `sam local start-api` and
// `sam local invoke` against the local stack's services (docs/local-development.md).
const SAMEnvFile = "sam-env.json"

func main() {
	listen := flag.String("listen", "127.0.0.1:4000", "address of the local API")
	aws := localaws.OptionsFromEnv(os.Environ())
	endpoint := flag.String("endpoint", aws.Endpoint, `AWS endpoint: empty for the embedded emulator, a URL (e.g. LocalStack), or "aws" (default: $AWS_ENDPOINT_URL); single services go elsewhere by AWS_ENDPOINT_URL_<SERVICE>, such as AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local`)
	out := flag.String("out", filepath.Join(".local", "dev.json"), "where to write the connection details")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	aws.Endpoint = *endpoint
	if err := run(ctx, *listen, aws, *out, log); err != nil {
		log.Error("local stack failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, listen string, aws localaws.Options, out string, log *slog.Logger) error {
	st, err := localstack.Start(ctx, localstack.Options{Listen: listen, Endpoint: aws.Endpoint, Services: aws.Services, Region: aws.Region, Log: log})
	if err != nil {
		return err
	}
	defer st.Close()
	info, err := seedDemo(ctx, st, out)
	if err != nil {
		return fmt.Errorf("seed demo tenant: %w", err)
	}
	var banner string
	if info.MailPage != "" {
		banner = "\nEmails the functions send (magic links, notifications) are captured, logged and shown at\n  " + info.MailPage + "\n"
		// Created before dev.json announces the stack, so no email sent after that is missed.
		w := newMailWatcher(ctx, st, log.With("mailPage", info.MailPage))
		go w.run(ctx, mailPoll)
	}
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		return err
	}
	sam, err := st.SAMEnvVars()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(out), SAMEnvFile), append(sam, '\n'), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(out, append(b, '\n'), 0o600); err != nil {
		return err
	}
	fmt.Printf("\nLiving Profile is running.\n%s\n\nTry:\n  curl -H 'Authorization: Bearer %s' %s/v1/profiles/%s\n%s\nWritten to %s. Ctrl-C stops.\n",
		b, info.APIKey, info.APIBaseURL, info.DemoProfileID, banner, out)
	<-ctx.Done()
	return nil
}

// seedDemo makes sure the demo tenant, catalog, key and customer exist, reusing the key
// of an earlier run (only its digest is stored, so it cannot be shown again).
func seedDemo(ctx context.Context, st *localstack.Stack, out string) (Info, error) {
	store := dynamo.New(dynamodb.NewFromConfig(st.AWS.AWS), st.Table)
	svc := app.New(store, time.Now, 0)
	if err := seed.Tenant(ctx, store, demoTenant, "Demo Shop"); err != nil {
		return Info{}, err
	}
	if _, err := store.Catalog(ctx, demoTenant); errs.CodeOf(err) == errs.NotFound {
		if _, err := seed.LoadCatalog(ctx, svc, demoTenant, seed.DemoCatalog); err != nil {
			return Info{}, err
		}
	} else if err != nil {
		return Info{}, err
	}
	info := Info{Tenant: demoTenant, APIBaseURL: st.URL, EmulatorEndpoint: st.AWS.Endpoint, Region: st.AWS.AWS.Region, Table: st.Table,
		MailPage: st.MailPage()}
	var prev Info
	if b, err := os.ReadFile(out); err == nil && json.Unmarshal(b, &prev) == nil {
		// A key from before portal_links existed cannot mint the demo link: make a new one.
		if k, err := store.Key(ctx, prev.APIKeyID); err == nil && k.Matches(prev.APIKey) && k.Allows(apikey.PortalLinks) {
			info.APIKey, info.APIKeyID = prev.APIKey, prev.APIKeyID
		}
	}
	if info.APIKey == "" {
		plain, k, err := seed.Key(ctx, store, demoTenant, "local demo key", []apikey.Scope{apikey.Admin, apikey.PortalLinks})
		if err != nil {
			return Info{}, err
		}
		info.APIKey, info.APIKeyID = plain, k.ID
	}
	p, err := seed.DemoCustomer(ctx, svc, demoTenant)
	if err != nil {
		return Info{}, err
	}
	info.DemoProfileID = p.ID
	link, err := portalLink(ctx, st.URL, info.APIKey, p.ID)
	if err != nil {
		return Info{}, err
	}
	info.PortalLink = link
	return info, nil
}

// portalLink mints the demo link through the API itself, as a brand would.
func portalLink(ctx context.Context, base, key, profileID string) (string, error) {
	body, _ := json.Marshal(map[string]string{"profileId": profileID})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/portal-links", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		URL string `json:"url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("portal link: status %d", resp.StatusCode)
	}
	return out.URL, nil
}

// mailPoll is how often dev looks for new captured emails.
var mailPoll = time.Second

// mailbox is what a mailWatcher reads: the local stack's captured emails, in the order sent.
type mailbox interface {
	Mailbox(ctx context.Context) ([]localstack.Email, error)
}

// mailWatcher logs the emails captured after it was created. They are the developer's fake
// data, so it logs subject and recipients, which makes magic links easy to find.
type mailWatcher struct {
	box  mailbox
	log  *slog.Logger
	seen map[string]bool
}

// newMailWatcher remembers the emails captured so far (an earlier run's, kept by
// LP_DATA_DIR), so that they are counted once instead of logged again.
func newMailWatcher(ctx context.Context, box mailbox, log *slog.Logger) *mailWatcher {
	w := &mailWatcher{box: box, log: log, seen: map[string]bool{}}
	emails, err := box.Mailbox(ctx)
	if err != nil {
		log.Warn("read captured emails", "err", err)
		return w
	}
	for _, e := range emails {
		w.seen[e.MessageID] = true
	}
	if len(emails) > 0 {
		log.Info("emails captured by earlier runs are on the mail page", "count", len(emails))
	}
	return w
}

// poll logs the emails captured since the last poll, in the order they were sent.
func (w *mailWatcher) poll(ctx context.Context) {
	emails, err := w.box.Mailbox(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("read captured emails", "err", err)
		}
		return
	}
	for _, e := range emails {
		if w.seen[e.MessageID] {
			continue
		}
		w.seen[e.MessageID] = true
		w.log.Info("email sent", "subject", e.Subject, "to", strings.Join(e.Recipients(), ", "), "from", e.From)
	}
}

func (w *mailWatcher) run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			w.poll(ctx)
		}
	}
}
