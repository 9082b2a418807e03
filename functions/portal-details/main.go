// Command portal-details is the PortalDetails Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PortalDetails", wire.PortalDetails) }
