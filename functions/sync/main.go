// Command sync is the Sync Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("Sync", wire.Sync) }
