// Command portal-rights is the PortalRights Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/pages/rights"
)

func main() { wire.Main("PortalRights", rights.PortalRights) }
