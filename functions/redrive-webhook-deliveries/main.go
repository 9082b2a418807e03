// Command redrive-webhook-deliveries is the RedriveWebhookDeliveries Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("RedriveWebhookDeliveries", wire.RedriveWebhookDeliveries) }
