// Command portal-history is the PortalHistory Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PortalHistory", wire.PortalHistory) }
