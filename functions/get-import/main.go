// Command get-import is the GetImport Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/imports"
)

func main() { wire.Main("GetImport", imports.GetImport) }
