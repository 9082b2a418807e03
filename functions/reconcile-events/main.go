// Command reconcile-events is the ReconcileEvents Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/events"
)

func main() { wire.Main("ReconcileEvents", events.ReconcileEvents) }
