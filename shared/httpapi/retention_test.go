package httpapi_test

import "github.com/livingprofile/livingprofile/shared/httpapi"

// The retention reports join the scope walk, read from the emulator's table.
func init() {
	handlers["GET /v1/retention-runs"] = func(a *httpapi.API) httpapi.Handler { return a.ListRetentionRuns(env.store) }
}
