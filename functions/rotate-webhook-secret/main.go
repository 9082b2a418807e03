// Command rotate-webhook-secret is the RotateWebhookSecret Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("RotateWebhookSecret", wire.RotateWebhookSecret) }
