// Command decide-merge-candidate is the DecideMergeCandidate Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("DecideMergeCandidate", wire.DecideMergeCandidate) }
