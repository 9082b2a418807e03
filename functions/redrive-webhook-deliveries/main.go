// Command redrive-webhook-deliveries is the RedriveWebhookDeliveries Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/events"
)

func main() { wire.Main("RedriveWebhookDeliveries", events.RedriveWebhookDeliveries) }
