// Command create-profile is the CreateProfile Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("CreateProfile", wire.CreateProfile) }
