// Command records-of-processing is the RecordsOfProcessing Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("RecordsOfProcessing", wire.RecordsOfProcessing) }
