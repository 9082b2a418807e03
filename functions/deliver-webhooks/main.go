// Command deliver-webhooks is the DeliverWebhooks Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/events"
)

func main() { wire.Main("DeliverWebhooks", events.DeliverWebhooks) }
