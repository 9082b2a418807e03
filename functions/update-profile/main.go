// Command update-profile is the UpdateProfile Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("UpdateProfile", wire.UpdateProfile) }
