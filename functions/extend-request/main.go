// Command extend-request is the ExtendRequest Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/emails"
)

func main() { wire.Main("ExtendRequest", emails.ExtendRequest) }
