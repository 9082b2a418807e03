// Command extend-request is the ExtendRequest Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("ExtendRequest", wire.ExtendRequest) }
