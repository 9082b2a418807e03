// Command sweep-deadlines is the SweepDeadlines Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("SweepDeadlines", wire.SweepDeadlines) }
