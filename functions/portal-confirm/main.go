// Command portal-confirm is the PortalConfirm Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/pages"
)

func main() { wire.Main("PortalConfirm", pages.PortalConfirm) }
