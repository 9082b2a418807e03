// Command find-profile is the FindProfile Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("FindProfile", wire.FindProfile) }
