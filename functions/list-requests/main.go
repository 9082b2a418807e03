// Command list-requests is the ListRequests Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("ListRequests", wire.ListRequests) }
