// Command portal-login is the PortalLogin Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PortalLogin", wire.PortalLogin) }
