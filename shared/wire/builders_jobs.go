package wire

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/livingprofile/livingprofile/shared/blob"
	"github.com/livingprofile/livingprofile/shared/erasure"
	"github.com/livingprofile/livingprofile/shared/mail"
	"github.com/livingprofile/livingprofile/shared/sweep"
)

// The data-subject request jobs that are not routes.

// required returns env's value, or an error naming it when it is unset.
func (d *Deps) required(env string) (string, error) {
	v := d.env(env)
	if v == "" {
		return "", fmt.Errorf("%s is not set", env)
	}
	return v, nil
}

// s3Client returns an S3 client that addresses buckets by path when the configuration
// points at an emulator (BaseEndpoint set), as emulators need.
func (d *Deps) s3Client() *s3.Client {
	emulator := d.aws.BaseEndpoint != nil
	return s3.NewFromConfig(d.aws, func(o *s3.Options) { o.UsePathStyle = o.UsePathStyle || emulator })
}

// ProcessErasure builds the erasure job worker (ErasureQueue). Environment:
//   - EXPORTS_BUCKET (required): the person's exports are deleted from it;
//   - SENDER_EMAIL (required): the confirmation email's From address;
//   - MAX_ATTEMPTS (optional, default erasure.DefaultMaxAttempts): the queue's
//     maxReceiveCount (JobMaxAttempts); the last attempt marks the request failed.
func ProcessErasure(_ context.Context, d *Deps) (any, error) {
	bucket, err := d.required("EXPORTS_BUCKET")
	if err != nil {
		return nil, err
	}
	from, err := d.required("SENDER_EMAIL")
	if err != nil {
		return nil, err
	}
	attempts, err := d.optionalPositive("MAX_ATTEMPTS", erasure.DefaultMaxAttempts)
	if err != nil {
		return nil, err
	}
	job := erasure.New(d.store, blob.New(d.s3Client(), bucket, ""), mail.Sender{Client: sesv2.NewFromConfig(d.aws), From: from},
		d.log, erasure.Options{MaxAttempts: attempts})
	return QueueHandler(job.Handle), nil
}

// SweepDeadlines builds the hourly deadline sweeper.
func SweepDeadlines(_ context.Context, d *Deps) (any, error) {
	return ScheduleHandler(sweep.New(d.store, d.log, time.Now).Handle), nil
}
