// Command sweep-deadlines is the SweepDeadlines Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("SweepDeadlines", wire.SweepDeadlines) }
