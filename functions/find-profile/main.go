// Command find-profile is the FindProfile Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("FindProfile", wire.FindProfile) }
