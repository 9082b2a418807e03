// Command process-erasure is the ProcessErasure Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("ProcessErasure", wire.ProcessErasure) }
