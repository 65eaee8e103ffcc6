package aws_test

import (
	"context"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-logr/logr"

	"github.com/eso-bridge/eso-bridge/providers"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// A key the listing does not show costs one DescribeSecret, not one every
// sweep: a secret that does not exist and one scheduled for deletion are
// described once and then backed off; a partial ARN (without the six random
// characters) is found in the listing and never described.
func TestKeysMissingFromTheListingAreNotDescribedEverySweep(t *testing.T) {
	server, ids, url := identityBed(t)
	putAs(t, url, ownKey, "app/db", "v1")
	putAs(t, url, ownKey, "app/old", "v1")
	client := clientAs(url, ownKey)
	described, err := client.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: sdkaws.String("app/db")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteSecret(t.Context(), &secretsmanager.DeleteSecretInput{SecretId: sdkaws.String("app/old"), RecoveryWindowInDays: sdkaws.Int64(7)}); err != nil {
		t.Fatal(err)
	}
	store := awsprovider.Store{Region: "us-east-1"}.ID()
	arn := sdkaws.ToString(described.ARN)
	partial := providers.Ref{Store: store, Key: arn[:len(arn)-7]}
	refs := []providers.Ref{partial, {Store: store, Key: "app/old"}, {Store: store, Key: "app/missing"}}

	poller := &awsprovider.Poller{Clients: ids.Client, Log: logr.Discard()}
	poller.Watch(refs)
	changes := make(chan providers.Change, 16)
	before := server.Calls()["DescribeSecret"] // the test's own
	const sweeps = 5
	for range sweeps {
		poller.Cycle(context.Background(), changes)
	}
	if got := server.Calls()["DescribeSecret"] - before; got != 2 {
		t.Errorf("%d DescribeSecret calls in %d sweeps, want 2: one for the missing key, one for the one scheduled for deletion", got, sweeps)
	}
	if v, ok := poller.Current(partial); !ok || v.ARN != arn {
		t.Errorf("the partial ARN's version: %+v (seen %v), want the listed secret's", v, ok)
	}
	for _, ref := range refs {
		if err := poller.Problem(ref); err != nil {
			t.Errorf("%s reported as a problem (%v): a missing key is ESO's to report", ref.Key, err)
		}
	}
}
