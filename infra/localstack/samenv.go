package localstack

import (
	"encoding/json"
	"maps"
)

// SAMEnvVars is the file `sam local start-api` and `sam local invoke` take with --env-vars:
// per function, its environment in the local stack (the physical names of its table, queues,
// buckets and secrets) and the endpoints of the stack's AWS services, so that a function SAM
// runs in a container works on the same data as the local stack. A container reaches the
// endpoints on the host's loopback with --docker-network host (Linux).
func (s *Stack) SAMEnvVars() ([]byte, error) {
	out := map[string]map[string]string{}
	for id, env := range s.Env {
		vars := maps.Clone(env)
		if s.AWS.Endpoint != "" {
			vars["AWS_ENDPOINT_URL"] = s.AWS.Endpoint
		}
		maps.Copy(vars, s.AWS.Services)
		out[id] = vars
	}
	return json.MarshalIndent(out, "", "  ")
}
