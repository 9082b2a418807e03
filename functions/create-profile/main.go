// Command create-profile is the CreateProfile Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("CreateProfile", wire.CreateProfile) }
