// Command get-catalog is the GetCatalog Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("GetCatalog", wire.GetCatalog) }
