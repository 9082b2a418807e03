// Command list-events is the ListEvents Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("ListEvents", wire.ListEvents) }
