// Command sync is the Sync Lambda function (POST /v1/sync); its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("Sync", wire.Sync) }
