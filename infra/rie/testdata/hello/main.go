// Command hello is the cold-start baseline Lambda for the infra/rie harness:
// the smallest possible Go Lambda, answering every event with a fixed JSON
// greeting. Benchmarks report a real function's cold start beside this one,
// measured in the same run, so the difference is the function's own init cost.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

// Greeting is the JSON answer of the hello function.
type Greeting struct {
	Message string `json:"message"`
	Name    string `json:"name"`
}

type request struct {
	Name string `json:"name"`
}

func handle(_ context.Context, raw json.RawMessage) (Greeting, error) {
	var req request
	// Any JSON is accepted; a non-object payload just greets "world".
	_ = json.Unmarshal(raw, &req)
	if req.Name == "" {
		req.Name = "world"
	}
	return Greeting{Message: "hello, " + req.Name, Name: req.Name}, nil
}

func main() {
	lambda.Start(handle)
}
