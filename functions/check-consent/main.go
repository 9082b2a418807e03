// Command check-consent is the CheckConsent Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("CheckConsent", wire.CheckConsent) }
