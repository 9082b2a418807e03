package awserr_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/livingprofile/livingprofile/shared/awsapi"
	"github.com/livingprofile/livingprofile/shared/awserr"
	"github.com/livingprofile/livingprofile/shared/errs"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		name                 string
		err                  error
		throttled, transient bool
	}{
		{"throttling", fmt.Errorf("put: %w", &smithy.GenericAPIError{Code: "ThrottlingException"}), true, true},
		{"provisioned throughput", fmt.Errorf("get: %w", &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException"}), true, true},
		{"request limit", &smithy.GenericAPIError{Code: "RequestLimitExceeded"}, true, true},
		{"SES", &smithy.GenericAPIError{Code: "TooManyRequestsException"}, true, true},
		{"S3", &smithy.GenericAPIError{Code: "SlowDown"}, true, true},
		{"unprocessed items", fmt.Errorf("batch: %w", errs.E(errs.TooManyRequests, "the store is busy; retry")), true, true},
		{"throttled transaction", errors.New("TransactionCanceledException: Transaction cancelled [ThrottlingError, None]"), true, true},
		{"conflicting transaction", errors.New("TransactionCanceledException: Transaction cancelled [TransactionConflict, None]"), false, true},
		{"validation", &smithy.GenericAPIError{Code: "ValidationException"}, false, false},
		{"S3 adapter throttled", fmt.Errorf("put object: %w", &awsapi.Error{Status: 503, Code: "SlowDown"}), true, true},
		{"SES adapter throttled", &awsapi.Error{Status: 429, Code: "TooManyRequestsException"}, true, true},
		{"server failure", fmt.Errorf("list objects: %w", &awsapi.Error{Status: 500, Code: "InternalError"}), false, true},
		{"unmodeled 429", &awsapi.Error{Status: 429, Code: "TooManyRequests"}, false, true},
		{"refused", &awsapi.Error{Status: 400, Code: "MessageRejected"}, false, false},
		{"forbidden", &awsapi.Error{Status: 403, Code: "AccessDenied"}, false, false},
		{"not found", errs.E(errs.NotFound, "profile not found"), false, false},
		{"nil", nil, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := awserr.Throttled(c.err); got != c.throttled {
				t.Errorf("Throttled = %v, want %v", got, c.throttled)
			}
			if got := awserr.Transient(c.err); got != c.transient {
				t.Errorf("Transient = %v, want %v", got, c.transient)
			}
		})
	}
}
