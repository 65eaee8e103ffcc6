package controlplane

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscredentials "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// ParameterStore puts parameters in the control plane's SSM Parameter Store
// (moto's; the in-process endpoint serves Secrets Manager only), as people
// and pipelines do in AWS.
type ParameterStore struct {
	// Client is an aws-sdk-go-v2 client bound to the endpoint.
	Client *ssm.Client
}

// NewParameterStore is a Parameter Store client of the endpoint at url with
// the local keys.
func NewParameterStore(url string) *ParameterStore {
	return &ParameterStore{Client: ssm.New(ssm.Options{
		Region: AWSRegion, BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: awscredentials.NewStaticCredentialsProvider(AWSAccessKeyID, AWSSecretAccessKey, ""),
	})}
}

// Put writes value as a new version of the SecureString parameter name
// (creating it) and returns the version.
func (p *ParameterStore) Put(ctx context.Context, name, value string) (int64, error) {
	out, err := p.Client.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
	})
	if err != nil {
		return 0, fmt.Errorf("putting parameter %s: %w", name, err)
	}
	return out.Version, nil
}
