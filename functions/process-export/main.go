// Command process-export is the ProcessExport Lambda function of template.yaml.
package main

import (
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/jobs"
)

func main() { wire.Main("ProcessExport", jobs.ProcessExport) }
