// Command delete-webhook is the DeleteWebhook Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("DeleteWebhook", wire.DeleteWebhook) }
