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

type echo struct {
	RawPath      string `json:"rawPath"`
	Method       string `json:"method"`
	RouteKey     string `json:"routeKey"`
	FunctionName string `json:"functionName"`
}

func handle(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	body, err := json.Marshal(echo{
		RawPath:      req.RawPath,
		Method:       req.RequestContext.HTTP.Method,
		RouteKey:     req.RouteKey,
		FunctionName: lambdacontext.FunctionName,
	})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 200,
		Headers:    map[string]string{"content-type": "application/json"},
		Body:       string(body),
	}, nil
}

func main() {
	lambda.Start(handle)
}
