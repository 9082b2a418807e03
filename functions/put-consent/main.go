// Command put-consent is the PutConsent Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PutConsent", wire.PutConsent) }
