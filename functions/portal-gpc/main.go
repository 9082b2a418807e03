// Command portal-gpc is the PortalGpc Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PortalGpc", wire.PortalGpc) }
