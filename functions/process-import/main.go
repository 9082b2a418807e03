// Command process-import is the ProcessImport Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/imports/queued"
)

func main() { wire.Main("ProcessImport", queued.ProcessImport) }
