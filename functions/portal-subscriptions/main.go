// Command portal-subscriptions is the PortalSubscriptions Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/pages"
)

func main() { wire.Main("PortalSubscriptions", pages.PortalSubscriptions) }
