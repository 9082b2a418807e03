// Command portal-logout is the PortalLogout Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PortalLogout", wire.PortalLogout) }
