// Command portal-unsubscribe is the PortalUnsubscribe Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PortalUnsubscribe", wire.PortalUnsubscribe) }
