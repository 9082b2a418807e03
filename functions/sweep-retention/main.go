// Command sweep-retention is the SweepRetention Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("SweepRetention", wire.SweepRetention) }
