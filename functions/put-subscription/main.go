// Command put-subscription is the PutSubscription Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PutSubscription", wire.PutSubscription) }
