// Command rotate-webhook-secret is the RotateWebhookSecret Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("RotateWebhookSecret", wire.RotateWebhookSecret) }
