// Command dispatch-events is the DispatchEvents Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("DispatchEvents", wire.DispatchEvents) }
