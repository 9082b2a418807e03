// Command list-webhooks is the ListWebhooks Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("ListWebhooks", wire.ListWebhooks) }
