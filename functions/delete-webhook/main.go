// Command delete-webhook is the DeleteWebhook Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("DeleteWebhook", wire.DeleteWebhook) }
