// Command dispatch-events is the DispatchEvents Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/events"
)

func main() { wire.Main("DispatchEvents", events.DispatchEvents) }
