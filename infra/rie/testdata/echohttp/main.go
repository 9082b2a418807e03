// Command echohttp is an HTTP API Lambda proving that events round-trip through
// the emulator: it echoes the request's rawPath, method and route key, and the
// function name it runs as, which shows that the emulator's environment reaches it.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

func handle(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	body, _ := json.Marshal(map[string]string{ // a map of strings always marshals
		"rawPath":      req.RawPath,
		"method":       req.RequestContext.HTTP.Method,
		"routeKey":     req.RouteKey,
		"functionName": lambdacontext.FunctionName,
	})
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 200,
		Headers:    map[string]string{"content-type": "application/json"},
		Body:       string(body),
	}, nil
}

func main() {
	lambda.Start(handle)
}
