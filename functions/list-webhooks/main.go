// Command list-webhooks is the ListWebhooks Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("ListWebhooks", wire.ListWebhooks) }
