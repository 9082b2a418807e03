// Command get-catalog is the GetCatalog Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("GetCatalog", wire.GetCatalog) }
