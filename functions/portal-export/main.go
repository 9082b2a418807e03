// Command portal-export is the PortalExport Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/pages/download"
)

func main() { wire.Main("PortalExport", download.PortalExport) }
