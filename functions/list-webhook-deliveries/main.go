// Command list-webhook-deliveries is the ListWebhookDeliveries Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("ListWebhookDeliveries", wire.ListWebhookDeliveries) }
