package main

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/infra/moto"
)

// TestDevWithDynamoDBElsewhere runs `make dev` with DynamoDB from another emulator (moto,
// serving only DynamoDB here) and every other service embedded, set by the SDK's standard
// AWS_ENDPOINT_URL_DYNAMODB and AWS_REGION as for DynamoDB Local: the README's journey
// passes, and the data is in the other emulator's table, not in the embedded one.
func TestDevWithDynamoDBElsewhere(t *testing.T) {
	ctx := context.Background()
	ddb := moto.Start(t)
	dir, bin := buildDev(t)
	run := startDev(t, bin, filepath.Join(dir, "kumo"), filepath.Join(dir, "dev.json"),
		"AWS_ENDPOINT_URL_DYNAMODB="+ddb, "AWS_REGION=eu-west-1")
	defer run.stop(t)
	if run.info.Region != "eu-west-1" {
		t.Errorf("region %q, want AWS_REGION's", run.info.Region)
	}
	id := readmeJourney(t, run)

	client := func(endpoint string) *dynamodb.Client {
		return dynamodb.NewFromConfig(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(endpoint),
			Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	}
	got, err := client(ddb).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(run.info.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "T#demo#P#" + id}, "SK": &types.AttributeValueMemberS{Value: "P"}}})
	if err != nil || got.Item == nil {
		t.Fatalf("the profile is not in the other emulator's table: %v", err)
	}
	tables, err := client(run.info.EmulatorEndpoint).ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(tables.TableNames, run.info.Table) {
		t.Errorf("the embedded emulator has the table too: %v", tables.TableNames)
	}
}
