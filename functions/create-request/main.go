// Command create-request is the CreateRequest Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("CreateRequest", wire.CreateRequest) }
