// Command portal-export is the PortalExport Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PortalExport", wire.PortalExport) }
