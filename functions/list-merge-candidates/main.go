// Command list-merge-candidates is the ListMergeCandidates Lambda function of template.yaml.
package main

import "github.com/livingprofile/livingprofile/shared/wire"

func main() { wire.Main("ListMergeCandidates", wire.ListMergeCandidates) }
