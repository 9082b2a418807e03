// Command process-export is the ProcessExport Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("ProcessExport", wire.ProcessExport) }
