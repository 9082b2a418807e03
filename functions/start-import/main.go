// Command start-import is the StartImport Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/imports/queued"
)

func main() { wire.Main("StartImport", queued.StartImport) }
