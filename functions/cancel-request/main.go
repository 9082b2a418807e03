// Command cancel-request is the CancelRequest Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("CancelRequest", wire.CancelRequest) }
