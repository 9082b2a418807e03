// Command put-catalog is the PutCatalog Lambda function; its handler is built in package wire.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("PutCatalog", wire.PutCatalog) }
