// Command portal-login is the PortalLogin Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/pages/login"
)

func main() { wire.Main("PortalLogin", login.PortalLogin) }
