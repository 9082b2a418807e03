// Command portal-privacy is the PortalPrivacy Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/privacy"
)

func main() { wire.Main("PortalPrivacy", privacy.PortalPrivacy) }
