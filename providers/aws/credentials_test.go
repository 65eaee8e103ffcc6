package aws_test

import (
	"context"
	"slices"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-logr/logr"

	"github.com/eso-bridge/eso-bridge/integration/localsm"
	"github.com/eso-bridge/eso-bridge/providers"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// The default clients use the controller's own credentials from the default
// chain, and assume a store's role through STS before calling Secrets Manager
// for that store.
func TestDefaultClientsAssumeTheStoreRole(t *testing.T) {
	server := localsm.New(localsm.Options{})
	url, err := server.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	// The default chain, pointed at the local endpoint and at nothing else.
	t.Setenv("AWS_ENDPOINT_URL", url)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIACONTROLLER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")

	own, err := awsprovider.DefaultClients(t.Context(), awsprovider.Store{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := own.(*secretsmanager.Client).CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: sdkaws.String("db"), SecretString: sdkaws.String("v1")}); err != nil {
		t.Fatal(err)
	}

	const role = "arn:aws:iam::000000000000:role/secrets-reader"
	poller := &awsprovider.Poller{Log: logr.Discard()} // Clients nil: DefaultClients
	poller.Watch([]providers.Ref{
		{Store: awsprovider.Store{Region: "us-east-1", Role: role}.ID(), Key: "db"},
		{Store: awsprovider.Store{Region: "us-east-1"}.ID(), Key: "db"},
	})
	changes := make(chan providers.Change, 4)
	poller.Cycle(context.Background(), changes)

	if assumed := server.AssumedRoles(); !slices.Contains(assumed, role) {
		t.Errorf("roles assumed: %v, want %s", assumed, role)
	}
	signers := server.AccessKeys()["ListSecrets"]
	if !slices.Contains(signers, localsm.AssumedAccessKey(role)) {
		t.Errorf("no ListSecrets call was signed with the assumed role's key; signers %v", signers)
	}
	if !slices.Contains(signers, "AKIACONTROLLER") {
		t.Errorf("the store without a role was not read with the controller's own key; signers %v", signers)
	}
	if len(changes) != 2 {
		t.Errorf("%d first sightings reported, want 2 (one per store)", len(changes))
	}
}
