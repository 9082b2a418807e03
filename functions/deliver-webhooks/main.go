// Command deliver-webhooks is the DeliverWebhooks Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("DeliverWebhooks", wire.DeliverWebhooks) }
