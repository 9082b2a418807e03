// Command portal-subscriptions is the PortalSubscriptions Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PortalSubscriptions", wire.PortalSubscriptions) }
