// Command deny-request is the DenyRequest Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/emails"
)

func main() { wire.Main("DenyRequest", emails.DenyRequest) }
