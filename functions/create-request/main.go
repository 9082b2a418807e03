// Command create-request is the CreateRequest Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("CreateRequest", wire.CreateRequest) }
