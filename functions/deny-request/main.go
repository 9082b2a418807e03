// Command deny-request is the DenyRequest Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("DenyRequest", wire.DenyRequest) }
