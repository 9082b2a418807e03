// Command route-not-found is the RouteNotFound Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("RouteNotFound", wire.RouteNotFound) }
