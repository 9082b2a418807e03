// Command portal-rights is the PortalRights Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PortalRights", wire.PortalRights) }
