// Command get-request is the GetRequest Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("GetRequest", wire.GetRequest) }
