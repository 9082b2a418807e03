// Command get-profile is the GetProfile Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("GetProfile", wire.GetProfile) }
