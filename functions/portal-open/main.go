// Command portal-open is the PortalOpen Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PortalOpen", wire.PortalOpen) }
