// Command get-profile is the GetProfile Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("GetProfile", wire.GetProfile) }
