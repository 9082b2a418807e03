// Command create-webhook is the CreateWebhook Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("CreateWebhook", wire.CreateWebhook) }
