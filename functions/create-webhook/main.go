// Command create-webhook is the CreateWebhook Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("CreateWebhook", wire.CreateWebhook) }
