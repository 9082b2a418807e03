package awsapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"

	"github.com/livingprofile/livingprofile/shared/awsapi"
)

var svc = awsapi.Service{ID: "Test", SigningName: "test"}

func client(srvURL string, attempts int) (*awsapi.Client, *url.URL) {
	cfg := aws.Config{Region: "eu-central-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "token"),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			})
		}}
	u, _ := url.Parse(srvURL + "/op")
	return awsapi.New(cfg, svc), u
}

func decode(_ *http.Response, body []byte) (string, string) {
	code, msg, _ := strings.Cut(string(body), ":")
	return code, msg
}

// TestDo: what is retried (throttling, 5xx, with the body resent whole) and what is not
// (a refusal), and how an answer becomes an error.
func TestDo(t *testing.T) {
	for _, c := range []struct {
		name     string
		answers  []int // status per attempt; the last repeats
		attempts int   // how many the client makes
		code     string
		ok       bool
	}{
		{"success", []int{200}, 1, "", true},
		{"throttled, then success", []int{429, 200}, 2, "", true},
		{"server failures, then success", []int{503, 500, 200}, 3, "", true},
		{"server failures throughout", []int{502}, 3, "Fail502", false},
		{"refused", []int{400}, 1, "Fail400", false},
		{"forbidden", []int{403}, 1, "Fail403", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				b, _ := io.ReadAll(r.Body)
				if string(b) != "payload" || r.Header.Get("Authorization") == "" || r.Header.Get("X-Amz-Security-Token") != "token" {
					t.Errorf("attempt %d: body %q, authorization %q", i, b, r.Header.Get("Authorization"))
				}
				st := c.answers[min(i, len(c.answers)-1)]
				w.WriteHeader(st)
				if st != 200 {
					_, _ = io.WriteString(w, "Fail"+strconv.Itoa(st)+":it failed")
					return
				}
				_, _ = io.WriteString(w, "answer")
			}))
			defer srv.Close()
			cl, u := client(srv.URL, 3)
			body, size := awsapi.Bytes([]byte("payload"))
			out, err := cl.Do(context.Background(), awsapi.Request{Operation: "Op", Method: http.MethodPost, URL: u, Body: body, Size: size}, decode)
			if got := int(n.Load()); got != c.attempts {
				t.Errorf("%d attempts, want %d", got, c.attempts)
			}
			if c.ok {
				if err != nil || string(out) != "answer" {
					t.Fatalf("%q, %v", out, err)
				}
				return
			}
			var ae smithy.APIError
			var st interface{ HTTPStatusCode() int }
			if !errors.As(err, &ae) || ae.ErrorCode() != c.code || ae.ErrorMessage() != "it failed" || !errors.As(err, &st) {
				t.Fatalf("error %v", err)
			}
			if want := map[bool]smithy.ErrorFault{true: smithy.FaultServer, false: smithy.FaultClient}[st.HTTPStatusCode() >= 500]; ae.ErrorFault() != want {
				t.Errorf("fault %v", ae.ErrorFault())
			}
		})
	}
}

// TestDoHonoursContext: a call stops when its context ends, also while it waits to retry.
func TestDoHonoursContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	cl, u := client(srv.URL, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := cl.Do(ctx, awsapi.Request{Operation: "Op", Method: http.MethodGet, URL: u}, decode)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
}

// TestDoBoundsResponses: an answer larger than MaxResponseBytes is refused, not read whole.
func TestDoBoundsResponses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, io.LimitReader(zeros{}, awsapi.MaxResponseBytes+1))
	}))
	defer srv.Close()
	cl, u := client(srv.URL, 1)
	if _, err := cl.Do(context.Background(), awsapi.Request{Operation: "Op", Method: http.MethodGet, URL: u}, decode); err == nil ||
		!strings.Contains(err.Error(), "larger than") {
		t.Fatalf("error %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
