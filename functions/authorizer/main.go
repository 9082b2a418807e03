// Command authorizer is the Authorizer Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("Authorizer", wire.Authorizer) }
