// Command hello is the cold-start baseline: the smallest Go Lambda. Beside it,
// a real function's cold start of the same run shows its own init cost.
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

func handle(_ context.Context, raw json.RawMessage) (Greeting, error) {
	var req struct {
		Name string `json:"name"`
	}
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
