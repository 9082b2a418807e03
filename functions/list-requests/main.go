// Command list-requests is the ListRequests Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("ListRequests", wire.ListRequests) }
