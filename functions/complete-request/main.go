// Command complete-request is the CompleteRequest Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("CompleteRequest", wire.CompleteRequest) }
