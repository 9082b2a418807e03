// Command update-profile is the UpdateProfile Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("UpdateProfile", wire.UpdateProfile) }
