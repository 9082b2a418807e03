// Command list-webhook-deliveries is the ListWebhookDeliveries Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("ListWebhookDeliveries", wire.ListWebhookDeliveries) }
