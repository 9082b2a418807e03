// Command check-consent is the CheckConsent Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("CheckConsent", wire.CheckConsent) }
