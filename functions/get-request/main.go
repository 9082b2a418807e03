// Command get-request is the GetRequest Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/exports"
)

func main() { wire.Main("GetRequest", exports.GetRequest) }
