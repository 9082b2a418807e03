// Command merge-profiles is the MergeProfiles Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("MergeProfiles", wire.MergeProfiles) }
