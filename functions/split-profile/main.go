// Command split-profile is the SplitProfile Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("SplitProfile", wire.SplitProfile) }
