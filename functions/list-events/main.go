// Command list-events is the ListEvents Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("ListEvents", wire.ListEvents) }
