// Command list-retention-runs is the ListRetentionRuns Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("ListRetentionRuns", wire.ListRetentionRuns) }
