// Command complete-request is the CompleteRequest Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("CompleteRequest", wire.CompleteRequest) }
