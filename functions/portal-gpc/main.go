// Command portal-gpc is the PortalGpc Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/gpc"
)

func main() { wire.Main("PortalGpc", gpc.PortalGpc) }
