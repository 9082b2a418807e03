// Command cancel-request is the CancelRequest Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("CancelRequest", wire.CancelRequest) }
