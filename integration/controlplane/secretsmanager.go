package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscredentials "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/eso-bridge/eso-bridge/integration/localsm"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// The local endpoint accepts any credentials; these are what the SecretStores
// and helpers here use. They are not secrets.
const (
	AWSRegion          = "us-east-1"
	AWSAccessKeyID     = "eso-bridge-local"
	AWSSecretAccessKey = "eso-bridge-local"
)

// Staging labels of AWS Secrets Manager.
const (
	LabelCurrent  = "AWSCURRENT"
	LabelPending  = "AWSPENDING"
	LabelPrevious = "AWSPREVIOUS"
)

// checkMoto fails early, and clearly, where the Python AWS emulator is missing.
func checkMoto(ctx context.Context, python string) error {
	out, err := exec.CommandContext(ctx, python, "-c", "import moto.server, flask").CombinedOutput()
	if err != nil {
		return fmt.Errorf("the local AWS Secrets Manager endpoint runs on moto, and `%s -c 'import moto.server, flask'` failed (%v): %s\n"+
			"install it with `pip install 'moto[server]'` (moto 5.x)", python, err, out)
	}
	return nil
}

// startSecretsManager starts moto's server on a free loopback port and waits
// until it answers a Secrets Manager call.
func (cp *ControlPlane) startSecretsManager(ctx context.Context, python string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	cp.SecretsManagerURL = loopbackURL("http", port)
	p, err := cp.start("moto", python, []string{"-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port)}, nil, hostPort(port))
	if err != nil {
		return err
	}
	cp.SecretsManager = NewSecretsManager(cp.SecretsManagerURL)
	return waitReady(ctx, p, time.Minute, "a ListSecrets answer", func(ctx context.Context) error {
		_, err := cp.SecretsManager.Client.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
		return err
	})
}

// startLocalSecretsManager serves integration/localsm on a free loopback port.
func (cp *ControlPlane) startLocalSecretsManager() error {
	server := localsm.New(localsm.Options{Region: AWSRegion})
	url, err := server.Start()
	if err != nil {
		return err
	}
	cp.LocalSecretsManager, cp.SecretsManagerURL = server, url
	cp.SecretsManager = NewSecretsManager(url)
	return nil
}

// SecretsManager puts, rotates and deletes secrets in the local endpoint, the
// way people and rotation Lambdas do in AWS.
type SecretsManager struct {
	// Client is an aws-sdk-go-v2 client bound to the local endpoint.
	Client *secretsmanager.Client
}

// NewSecretsManager returns helpers for the Secrets Manager endpoint at url.
func NewSecretsManager(url string) *SecretsManager {
	return NewSecretsManagerAs(url, AWSAccessKeyID)
}

// NewSecretsManagerAs is NewSecretsManager signing with accessKey: with the
// in-process endpoint, localsm.AssumedAccessKey(role) works in the role's
// account.
func NewSecretsManagerAs(url, accessKey string) *SecretsManager {
	return &SecretsManager{Client: secretsmanager.New(secretsmanager.Options{
		Region:       AWSRegion,
		BaseEndpoint: aws.String(url),
		Credentials:  awscredentials.NewStaticCredentialsProvider(accessKey, AWSSecretAccessKey, ""),
		// Tests want a failure at once, not after the SDK's own retries.
		RetryMaxAttempts: 1,
	})}
}

// InRegion is s in another region of the same endpoint (moto keeps
// regions apart).
func (s *SecretsManager) InRegion(region string) *SecretsManager {
	return &SecretsManager{Client: secretsmanager.New(s.Client.Options(), func(o *secretsmanager.Options) { o.Region = region })}
}

// CreateSecret creates a secret whose first version (AWSCURRENT) holds value,
// and returns that version's ID.
func (s *SecretsManager) CreateSecret(ctx context.Context, name, value string) (string, error) {
	out, err := s.Client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		return "", fmt.Errorf("creating secret %s: %w", name, err)
	}
	return aws.ToString(out.VersionId), nil
}

// PutValue stores a new version and makes it AWSCURRENT at once, as a person or
// a pipeline does; it returns the new version's ID.
func (s *SecretsManager) PutValue(ctx context.Context, name, value string) (string, error) {
	out, err := s.Client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		return "", fmt.Errorf("putting a new value in %s: %w", name, err)
	}
	return aws.ToString(out.VersionId), nil
}

// PutPending stores a new version labelled AWSPENDING only, as a rotation
// Lambda's createSecret step does; AWSCURRENT does not move.
func (s *SecretsManager) PutPending(ctx context.Context, name, value string) (string, error) {
	out, err := s.Client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(name), SecretString: aws.String(value), VersionStages: []string{LabelPending},
	})
	if err != nil {
		return "", fmt.Errorf("putting a pending value in %s: %w", name, err)
	}
	return aws.ToString(out.VersionId), nil
}

// PutLabelled stores a new version labelled label only, as a blue/green
// switch moves its own label; AWSCURRENT does not move.
func (s *SecretsManager) PutLabelled(ctx context.Context, name, value, label string) (string, error) {
	out, err := s.Client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(name), SecretString: aws.String(value), VersionStages: []string{label},
	})
	if err != nil {
		return "", fmt.Errorf("putting a value labelled %s in %s: %w", label, name, err)
	}
	return aws.ToString(out.VersionId), nil
}

// Promote moves AWSCURRENT to versionID, as a rotation Lambda's finishSecret
// step does.
func (s *SecretsManager) Promote(ctx context.Context, name, versionID string) error {
	current, err := s.CurrentVersion(ctx, name)
	if err != nil {
		return err
	}
	_, err = s.Client.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(name), VersionStage: aws.String(LabelCurrent),
		MoveToVersionId: aws.String(versionID), RemoveFromVersionId: aws.String(current),
	})
	if err != nil {
		return fmt.Errorf("promoting %s of %s to %s: %w", versionID, name, LabelCurrent, err)
	}
	return nil
}

// CurrentVersion returns the ID of the version labelled AWSCURRENT.
func (s *SecretsManager) CurrentVersion(ctx context.Context, name string) (string, error) {
	out, err := s.Client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("describing %s: %w", name, err)
	}
	for id, labels := range out.VersionIdsToStages {
		for _, label := range labels {
			if label == LabelCurrent {
				return id, nil
			}
		}
	}
	return "", fmt.Errorf("secret %s has no %s version", name, LabelCurrent)
}

// DeleteSecret deletes a secret at once, without the recovery window.
func (s *SecretsManager) DeleteSecret(ctx context.Context, name string) error {
	_, err := s.Client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(name), ForceDeleteWithoutRecovery: aws.Bool(true)})
	var notFound *types.ResourceNotFoundException
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}

// AWSEnv is the environment under which a controller process's default AWS
// credential chain reaches this control plane's endpoint (Secrets Manager,
// Parameter Store, STS and SQS) with the local keys, and ignores the host's AWS files.
func (cp *ControlPlane) AWSEnv() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": cp.SecretsManagerURL, "AWS_ENDPOINT_URL_STS": cp.SecretsManagerURL,
		"AWS_ENDPOINT_URL_SQS": cp.SecretsManagerURL, "AWS_ENDPOINT_URL_SSM": cp.SecretsManagerURL,
		"AWS_ACCESS_KEY_ID": AWSAccessKeyID, "AWS_SECRET_ACCESS_KEY": AWSSecretAccessKey,
		"AWS_REGION": AWSRegion, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
	}
}

// AWSIdentities reproduce stores' identities against this control plane:
// eso-bridge's own credentials are the local keys at the local endpoint
// (Secrets Manager and STS), ServiceAccount tokens come from its API server,
// and static keys are read from its Secrets when readStaticKeys (the stores
// of SecretStoreObjects carry them).
func (cp *ControlPlane) AWSIdentities(readStaticKeys bool) (awsprovider.Identities, error) {
	kube, err := corev1client.NewForConfig(cp.Config)
	if err != nil {
		return awsprovider.Identities{}, err
	}
	url := cp.SecretsManagerURL
	return awsprovider.Identities{Kube: kube, ReadStaticKeys: readStaticKeys,
		Base: func(_ context.Context, region string) (aws.Config, error) {
			return aws.Config{Region: region, BaseEndpoint: aws.String(url),
				Credentials: awscredentials.NewStaticCredentialsProvider(AWSAccessKeyID, AWSSecretAccessKey, ""),
				// Each injected fault is one failed call, as the fault
				// tests count them, not three attempts of one.
				RetryMaxAttempts: 1}, nil
		}}, nil
}
