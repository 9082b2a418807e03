// Command portal-consents is the PortalConsents Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PortalConsents", wire.PortalConsents) }
