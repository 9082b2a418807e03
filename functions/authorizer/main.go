// Command authorizer is the Authorizer Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("Authorizer", wire.Authorizer) }
