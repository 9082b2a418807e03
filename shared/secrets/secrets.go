// Package secrets reads secret values from AWS Secrets Manager. It calls GetSecretValue
// itself (package awsapi signs and sends) rather than through the SDK's Secrets Manager
// client, whose package initialisation was a sixth of a portal function's start-up, for one
// operation the functions use.
package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/livingprofile/livingprofile/shared/awsapi"
)

// SecretsManager is how the Secrets Manager API is reached and signed for.
var SecretsManager = awsapi.Service{ID: "Secrets Manager", SigningName: "secretsmanager"}

// ErrNotFound is returned for a secret, or a version stage of it, that does not exist.
var ErrNotFound = errors.New("secrets: no such secret or version stage")

// Reader reads secrets. It is safe for concurrent use.
type Reader struct {
	api *awsapi.Client
	url *url.URL
}

// New returns a reader through cfg: at the endpoint cfg sets for Secrets Manager
// (AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL, see awsapi.Endpoint), else at
// https://secretsmanager.<region>.amazonaws.com.
func New(ctx context.Context, cfg aws.Config) (*Reader, error) {
	u, err := awsapi.BaseURL(ctx, cfg, SecretsManager, "secretsmanager")
	if err != nil {
		return nil, err
	}
	return &Reader{api: awsapi.New(cfg, SecretsManager), url: u}, nil
}

// Value returns the string value of secret id (a name or an ARN) at version stage, e.g.
// "AWSCURRENT" or "AWSPREVIOUS"; ErrNotFound when either does not exist. Errors never hold
// the value.
func (r *Reader) Value(ctx context.Context, id, stage string) (string, error) {
	doc, err := json.Marshal(struct{ SecretId, VersionStage string }{id, stage})
	if err != nil {
		return "", fmt.Errorf("get secret value: %w", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	body, size := awsapi.Bytes(doc)
	out, err := r.api.Do(ctx, awsapi.Request{Operation: "GetSecretValue", Method: http.MethodPost, URL: r.url,
		Header: h, Body: body, Size: size}, awsapi.DecodeJSONError)
	var ae *awsapi.Error
	if errors.As(err, &ae) && ae.Code == "ResourceNotFoundException" {
		return "", fmt.Errorf("get secret value (%s): %w", stage, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("get secret value (%s): %w", stage, err)
	}
	var v struct{ SecretString *string }
	if err := json.Unmarshal(out, &v); err != nil {
		return "", fmt.Errorf("get secret value (%s): the answer is not JSON", stage)
	}
	if v.SecretString == nil {
		return "", fmt.Errorf("get secret value (%s): the secret has no string value", stage)
	}
	return *v.SecretString, nil
}
