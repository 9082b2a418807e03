// Command put-catalog is the PutCatalog Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PutCatalog", wire.PutCatalog) }
