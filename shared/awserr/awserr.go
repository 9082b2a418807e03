// Package awserr classifies errors of the AWS SDK for the jobs, which must not know that
// AWS exists: the composition root hands them Transient as a plain func(error) bool.
package awserr

import (
	"errors"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/livingprofile/livingprofile/shared/errs"
)

// throttleCodes are the AWS error codes of throttling, across DynamoDB, S3 and SES.
var throttleCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true, "ThrottlingException": true, "RequestLimitExceeded": true,
	"Throttling": true, "TooManyRequestsException": true, "SlowDown": true, "LimitExceededException": true,
}

// Throttled reports whether err is an AWS service (or the store, as errs.TooManyRequests)
// saying "slow down". A cancelled DynamoDB transaction reports throttling per item, only in
// its message.
func Throttled(err error) bool {
	if err == nil {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && throttleCodes[ae.ErrorCode()] {
		return true
	}
	return errs.CodeOf(err) == errs.TooManyRequests || strings.Contains(err.Error(), "ThrottlingError")
}

// Transient reports whether trying the same call again later can succeed: throttling, a
// service's failure (an HTTP 5xx answer, or 429, whatever its code), or a DynamoDB
// transaction cancelled by a conflicting one.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var st interface{ HTTPStatusCode() int }
	if errors.As(err, &st) && (st.HTTPStatusCode() >= 500 || st.HTTPStatusCode() == 429) {
		return true
	}
	return Throttled(err) || strings.Contains(err.Error(), "TransactionConflict")
}
