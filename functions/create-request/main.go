// Command create-request is the CreateRequest Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/emails"
)

func main() { wire.Main("CreateRequest", emails.CreateRequest) }
