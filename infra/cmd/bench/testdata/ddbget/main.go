// Command ddbget is the bench's same-job cold-start baseline: aws-lambda-go, the SDK's
// DynamoDB client configured from environment variables only (config.LoadDefaultConfig
// would link the shared-config, SSO and STS credential chain) and one GetItem per
// invocation. A function doing the same job cannot start much faster than this.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func main() {
	cfg := aws.Config{
		Region: os.Getenv("AWS_REGION"),
		Credentials: credentials.NewStaticCredentialsProvider(
			os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")),
	}
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	db := dynamodb.NewFromConfig(cfg)
	table := os.Getenv("TABLE_NAME")
	// The event is the item's key, attribute name -> string value; the answer {"found": bool}.
	lambda.Start(func(ctx context.Context, req map[string]string) (map[string]bool, error) {
		key := make(map[string]types.AttributeValue, len(req))
		for k, v := range req {
			key[k] = &types.AttributeValueMemberS{Value: v}
		}
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key})
		return map[string]bool{"found": out != nil && out.Item != nil}, err
	})
}
