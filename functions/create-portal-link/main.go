// Command create-portal-link is the CreatePortalLink Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("CreatePortalLink", wire.CreatePortalLink) }
