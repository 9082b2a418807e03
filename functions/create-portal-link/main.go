// Command create-portal-link is the CreatePortalLink Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/pages"
)

func main() { wire.Main("CreatePortalLink", pages.CreatePortalLink) }
