// Package registry maps every function's logical id in template.yaml to its builder, for
// the local stack, which runs all functions in one process. Deployed binaries do not import
// it, so each links only its own handler. The table is generated from functions/*/main.go
// (see Generate): it is never edited by hand.
package registry

import (
	"maps"
	"slices"

	"github.com/livingprofile/livingprofile/shared/wire"
)

// Functions lists every logical id with a builder, sorted.
func Functions() []string { return slices.Sorted(maps.Keys(builders)) }

// Builder returns the builder of a function.
func Builder(logicalID string) (wire.Builder, bool) {
	b, ok := builders[logicalID]
	return b, ok
}
