// Command portal-overview is the PortalOverview Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PortalOverview", wire.PortalOverview) }
