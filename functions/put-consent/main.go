// Command put-consent is the PutConsent Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PutConsent", wire.PutConsent) }
