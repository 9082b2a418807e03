// Command create-import is the CreateImport Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/imports"
)

func main() { wire.Main("CreateImport", imports.CreateImport) }
