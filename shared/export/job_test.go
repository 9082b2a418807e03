package export_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/blob"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/export"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// fakes holds every dependency of the job in memory, with the version semantics of
// SaveRequest.
type fakes struct {
	mu        sync.Mutex
	reqs      map[string]dsr.Request
	stale     int // the next n saves fail as stale
	profile   *profile.Profile
	cat       *catalog.Catalog
	ledger    *memLedger
	objects   map[string][]byte
	putErr    error
	mails     []export.Ready
	mailErr   error
	saveLog   []dsr.Status
	failPuts  int
	reads     int                  // Request calls
	duringPut func(r *dsr.Request) // changes the stored request while the export is stored
}

func (f *fakes) Request(_ context.Context, tenant, id string) (*dsr.Request, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	r, ok := f.reqs[id]
	if !ok || r.Tenant != tenant {
		return nil, errs.E(errs.NotFound, "request not found")
	}
	return &r, nil
}

func (f *fakes) SaveRequest(_ context.Context, r *dsr.Request, prior dsr.Prior) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stale > 0 {
		f.stale--
		cur := f.reqs[r.ID]
		cur.Version++ // someone else wrote
		f.reqs[r.ID] = cur
		return &errs.Error{Code: errs.Conflict, Message: "changed", Err: errs.ErrStale}
	}
	if cur := f.reqs[r.ID]; cur.Prior() != prior || r.Version != prior.Version+1 {
		return &errs.Error{Code: errs.Conflict, Message: "changed", Err: errs.ErrStale}
	}
	f.reqs[r.ID] = *r
	f.saveLog = append(f.saveLog, r.Status)
	return nil
}

func (f *fakes) RequestsOfProfile(_ context.Context, _, profileID string) ([]dsr.Request, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []dsr.Request
	for _, r := range f.reqs {
		if r.ProfileID == profileID {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakes) GetProfile(_ context.Context, _, id string) (*profile.Profile, error) {
	if f.profile == nil || f.profile.ID != id {
		return nil, errs.E(errs.NotFound, "profile not found")
	}
	return f.profile.Clone(), nil
}

func (f *fakes) Catalog(context.Context, string) (*catalog.Catalog, error) { return f.cat, nil }
func (f *fakes) TenantName(context.Context, string) (string, error)        { return "Acme", nil }
func (f *fakes) Endpoints(context.Context, string) ([]webhook.Endpoint, error) {
	return []webhook.Endpoint{{URL: "https://crm.example.com/hook", Description: "CRM"}}, nil
}
func (f *fakes) KeyName(context.Context, string, string) string { return "Web shop" }

func (f *fakes) Put(_ context.Context, in blob.PutInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failPuts > 0 {
		f.failPuts--
		return f.putErr
	}
	for id, r := range f.reqs {
		if f.duringPut != nil {
			f.duringPut(&r)
			r.Version++
			f.reqs[id] = r
		}
	}
	b, err := io.ReadAll(io.NewSectionReader(in.Body, 0, in.Size+1)) // one byte more shows a longer body
	if err != nil {
		return err
	}
	if int64(len(b)) != in.Size {
		return errors.New("size does not match the body")
	}
	f.objects[in.Key] = b
	return nil
}

func (f *fakes) ExportReady(_ context.Context, n export.Ready) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mailErr != nil {
		return f.mailErr
	}
	f.mails = append(f.mails, n)
	return nil
}

func newFakes(t *testing.T, typ dsr.Type) (*fakes, *export.Job, *dsr.Request) {
	t.Helper()
	p, cat, l := person(t, "acme", 30)
	f := &fakes{reqs: map[string]dsr.Request{}, profile: p, cat: cat, ledger: l, objects: map[string][]byte{}}
	r := dsr.New(app.NewID("rq_"), "acme", p.ID, typ, "", dsr.AttestedBrand, ledger.Actor{Kind: ledger.ActorAPIKey, ID: "key1"}, t0)
	r.Version, r.NotifyEmail, r.Locale = 1, "notify@example.com", "pl"
	f.reqs[r.ID] = *r
	job := export.NewJob(f, f, l, f, f, f, slog.New(slog.DiscardHandler), export.Options{TempDir: t.TempDir(), MaxAttempts: 3})
	job.SetClock(func() time.Time { return t0.Add(time.Hour) })
	return f, job, r
}

func message(r *dsr.Request, attempt int) events.SQSEvent {
	b, _ := json.Marshal(dsr.JobMessage{Tenant: r.Tenant, RequestID: r.ID})
	return events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: string(b),
		Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(attempt)}}}}
}

func handle(t *testing.T, job *export.Job, ev events.SQSEvent) []events.SQSBatchItemFailure {
	t.Helper()
	resp, err := job.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return resp.BatchItemFailures
}

func TestJob(t *testing.T) {
	t.Run("completes an access request and tells the person", func(t *testing.T) {
		f, job, r := newFakes(t, dsr.Access)
		if fails := handle(t, job, message(r, 1)); len(fails) != 0 {
			t.Fatalf("failures %v", fails)
		}
		if f.reads != 1 {
			t.Errorf("the job read the request %d times, want once: the completion starts from the request it saved", f.reads)
		}
		got, _ := f.Request(context.Background(), "acme", r.ID)
		key := export.Key("acme", r.ProfileID, r.ID)
		obj := f.objects[key]
		sum := sha256.Sum256(obj)
		if got.Status != dsr.Completed || got.Export == nil || got.Export.Key != key || got.Export.Bytes != int64(len(obj)) ||
			got.Export.SHA256 != hex.EncodeToString(sum[:]) || !got.Export.ExpiresAt.Equal(t0.Add(time.Hour+export.DefaultRetention)) {
			t.Fatalf("request %+v export %+v", got, got.Export)
		}
		if got.NotifyEmail != "" || got.CompletedAt == nil {
			t.Errorf("closed request keeps the address or lacks completedAt: %+v", got)
		}
		if len(f.saveLog) != 2 || f.saveLog[0] != dsr.InProgress || f.saveLog[1] != dsr.Completed {
			t.Errorf("saves %v, want in_progress then completed", f.saveLog)
		}
		if len(f.mails) != 1 || f.mails[0].To != "notify@example.com" || f.mails[0].Locale != "pl" || f.mails[0].TenantName != "Acme" {
			t.Errorf("mails %+v", f.mails)
		}
		z := openZip(t, obj)
		validate(t, schema(t), z.files[export.FileJSON])

		t.Run("a redelivery is skipped", func(t *testing.T) {
			before := len(f.saveLog)
			if fails := handle(t, job, message(r, 2)); len(fails) != 0 {
				t.Fatalf("failures %v", fails)
			}
			if len(f.saveLog) != before || len(f.mails) != 1 {
				t.Errorf("redelivery saved %d times and mailed %d", len(f.saveLog)-before, len(f.mails))
			}
		})
	})

	t.Run("portability too; stale saves are retried", func(t *testing.T) {
		f, job, r := newFakes(t, dsr.Portability)
		f.stale = 3
		if fails := handle(t, job, message(r, 1)); len(fails) != 0 {
			t.Fatalf("failures %v", fails)
		}
		if got, _ := f.Request(context.Background(), "acme", r.ID); got.Status != dsr.Completed {
			t.Errorf("status %s", got.Status)
		}
	})

	t.Run("a job interrupted after marking in progress completes on redelivery", func(t *testing.T) {
		f, job, r := newFakes(t, dsr.Access)
		f.failPuts, f.putErr = 1, errors.New("s3 down")
		if fails := handle(t, job, message(r, 1)); len(fails) != 1 {
			t.Fatalf("failures %v, want the message retried", fails)
		}
		if got, _ := f.Request(context.Background(), "acme", r.ID); got.Status != dsr.InProgress {
			t.Fatalf("status %s after a failed attempt", got.Status)
		}
		if fails := handle(t, job, message(r, 2)); len(fails) != 0 {
			t.Fatalf("failures %v", fails)
		}
		if got, _ := f.Request(context.Background(), "acme", r.ID); got.Status != dsr.Completed || len(f.mails) != 1 {
			t.Errorf("status %s, mails %d", got.Status, len(f.mails))
		}
	})

	t.Run("the last attempt marks the request failed", func(t *testing.T) {
		f, job, r := newFakes(t, dsr.Access)
		f.failPuts, f.putErr = 99, errors.New("s3 down")
		if fails := handle(t, job, message(r, 3)); len(fails) != 1 {
			t.Fatalf("failures %v, want the message left for the DLQ", fails)
		}
		got, _ := f.Request(context.Background(), "acme", r.ID)
		if got.Status != dsr.Failed || got.Failure == "" || got.Export != nil {
			t.Errorf("request %+v", got)
		}
		// An operator's redrive from the DLQ runs it again.
		f.failPuts = 0
		if fails := handle(t, job, message(r, 1)); len(fails) != 0 {
			t.Fatalf("failures %v", fails)
		}
		if got, _ := f.Request(context.Background(), "acme", r.ID); got.Status != dsr.Completed || got.Failure != "" {
			t.Errorf("after redrive %+v", got)
		}
	})

	t.Run("an email failure is retried, and on the last attempt no longer holds back completion", func(t *testing.T) {
		f, job, r := newFakes(t, dsr.Access)
		f.mailErr = errors.New("ses down")
		if fails := handle(t, job, message(r, 1)); len(fails) != 1 {
			t.Fatalf("failures %v", fails)
		}
		if got, _ := f.Request(context.Background(), "acme", r.ID); got.Status != dsr.InProgress {
			t.Fatalf("status %s", got.Status)
		}
		if fails := handle(t, job, message(r, 3)); len(fails) != 0 {
			t.Fatalf("failures %v", fails)
		}
		if got, _ := f.Request(context.Background(), "acme", r.ID); got.Status != dsr.Completed || got.Export == nil {
			t.Errorf("request %+v", got)
		}
	})

	t.Run("a person erased before the export gets no export", func(t *testing.T) {
		f, job, r := newFakes(t, dsr.Access)
		f.profile = nil
		if fails := handle(t, job, message(r, 1)); len(fails) != 0 {
			t.Fatalf("failures %v", fails)
		}
		got, _ := f.Request(context.Background(), "acme", r.ID)
		if got.Status != dsr.Completed || got.Export != nil || len(f.objects) != 0 || len(f.mails) != 0 {
			t.Errorf("request %+v, objects %d, mails %d", got, len(f.objects), len(f.mails))
		}
	})

	t.Run("messages it cannot act on are dropped", func(t *testing.T) {
		f, job, r := newFakes(t, dsr.Erasure)
		for name, ev := range map[string]events.SQSEvent{
			"malformed":       {Records: []events.SQSMessage{{MessageId: "x", Body: "{"}}},
			"unknown request": message(&dsr.Request{Tenant: "acme", ID: app.NewID("rq_")}, 1),
			"other tenant":    message(&dsr.Request{Tenant: "globex", ID: r.ID}, 1),
			"not an export":   message(r, 1),
		} {
			if fails := handle(t, job, ev); len(fails) != 0 {
				t.Errorf("%s: failures %v", name, fails)
			}
		}
		if len(f.saveLog) != 0 || len(f.objects) != 0 {
			t.Errorf("saved %v, stored %d", f.saveLog, len(f.objects))
		}
	})
}

// TestJobChangedWhileBuilding: when the request changes between the job marking it in
// progress and completing it, the completion's save from the request it saved is stale, and
// it reads the request again and judges afresh.
func TestJobChangedWhileBuilding(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *dsr.Request)
		check  func(t *testing.T, got *dsr.Request)
	}{
		{"an extension is kept", func(r *dsr.Request) {
			r.Extension = &dsr.Extension{Months: 2, Reason: "many systems to search", At: t0}
		}, func(t *testing.T, got *dsr.Request) {
			if got.Status != dsr.Completed || got.Export == nil || got.Extension == nil || got.Extension.Months != 2 {
				t.Errorf("request %+v", got)
			}
		}},
		{"a denied request stays denied", func(r *dsr.Request) {
			if err := r.Close(dsr.Denied, "manifestly unfounded request", t0); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, got *dsr.Request) {
			if got.Status != dsr.Denied || got.Export != nil {
				t.Errorf("request %+v", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, job, r := newFakes(t, dsr.Access)
			f.duringPut = tt.change
			if fails := handle(t, job, message(r, 1)); len(fails) != 0 {
				t.Fatalf("failures %v", fails)
			}
			if f.reads != 2 {
				t.Errorf("the job read the request %d times, want twice: once more after the stale completion", f.reads)
			}
			got, _ := f.Request(context.Background(), "acme", r.ID)
			tt.check(t, got)
		})
	}
}
