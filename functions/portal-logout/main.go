// Command portal-logout is the PortalLogout Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/pages"
)

func main() { wire.Main("PortalLogout", pages.PortalLogout) }
