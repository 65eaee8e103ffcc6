package aws_test

import (
	"context"
	"fmt"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-logr/logr"

	"github.com/eso-bridge/eso-bridge/providers"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// A sweep costs what is watched, not what the account holds: after the
// first sweep has counted 1,000 secrets (10 pages), watching 20 of them (one
// a near-namesake of an unwatched secret) costs 2 filtered listings a sweep,
// and a rotation is still found. A dataFrom.find, which must see every
// secret, keeps the full listing.
func TestASweepListsWhatIsWatchedNotTheAccount(t *testing.T) {
	server, ids, url := identityBed(t)
	client := clientAs(url, ownKey)
	for i := range 1000 {
		name := fmt.Sprintf("app/%04d", i)
		if _, err := client.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: &name, SecretString: sdkaws.String("v1")}); err != nil {
			t.Fatal(err)
		}
	}
	store := awsprovider.Store{Region: "us-east-1"}.ID()
	var refs []providers.Ref
	for i := range 20 {
		refs = append(refs, providers.Ref{Store: store, Key: fmt.Sprintf("app/%04d", i*50)})
	}
	poller := &awsprovider.Poller{Clients: ids.Client, Log: logr.Discard()}
	poller.Watch(refs)
	changes := make(chan providers.Change, 2000) // the find sees 1,000 secrets first
	lists := func() int { return server.Calls()["ListSecrets"] }

	poller.Cycle(context.Background(), changes)
	if got := lists(); got != 10 {
		t.Fatalf("the first sweep made %d ListSecrets calls, want 10 (the whole account, to count it)", got)
	}
	rotated := refs[7]
	out, err := client.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: &rotated.Key, SecretString: sdkaws.String("v2")})
	if err != nil {
		t.Fatal(err)
	}
	drainChanges(changes)
	before := lists()
	poller.Cycle(context.Background(), changes)
	if got := lists() - before; got != 2 {
		t.Errorf("a later sweep made %d ListSecrets calls, want 2 (20 names, 10 to a filter)", got)
	}
	if v, _ := poller.Current(rotated); v.ID != sdkaws.ToString(out.VersionId) {
		t.Errorf("the filtered sweep sees %s at %q, want the rotated version %q", rotated.Key, v.ID, sdkaws.ToString(out.VersionId))
	}
	if got := server.Calls()["DescribeSecret"]; got != 1 {
		t.Errorf("%d DescribeSecret calls, want 1 (the rotation's confirmation)", got)
	}

	find := providers.Ref{Store: store, Path: "app/"}
	poller.Watch(append(refs, find))
	before = lists()
	poller.Cycle(context.Background(), changes)
	if got := lists() - before; got != 10 {
		t.Errorf("a sweep with a dataFrom.find made %d ListSecrets calls, want 10 (the whole account)", got)
	}

	// The ExternalSecrets of the find and of half the names go (deleted, or
	// now another shard's): the sweep lists what is left.
	poller.Follow(nil, append([]providers.Ref{find}, refs[10:]...))
	drainChanges(changes)
	before = lists()
	poller.Cycle(context.Background(), changes)
	if got := lists() - before; got != 1 {
		t.Errorf("a sweep after dropping the find and 10 names made %d ListSecrets calls, want 1 (10 names, one filter)", got)
	}
}

func drainChanges(changes chan providers.Change) {
	for {
		select {
		case <-changes:
		default:
			return
		}
	}
}

// A shard of a cluster watches the secrets under its team's prefix: of an
// account of 2,000 secrets, half under app/, watching 500 of those costs
// the 10 pages under app/ a sweep — not the 50 calls of their names, nor the
// account's 20 pages — and a rotation among them is still found.
func TestASweepListsUnderTheWatchedPrefixes(t *testing.T) {
	server, ids, url := identityBed(t)
	client := clientAs(url, ownKey)
	for _, team := range []string{"app", "other"} {
		for i := range 1000 {
			name := fmt.Sprintf("%s/%04d", team, i)
			if _, err := client.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: &name, SecretString: sdkaws.String("v1")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	store := awsprovider.Store{Region: "us-east-1"}.ID()
	var refs []providers.Ref
	for i := range 500 {
		refs = append(refs, providers.Ref{Store: store, Key: fmt.Sprintf("app/%04d", i*2)})
	}
	poller := &awsprovider.Poller{Clients: ids.Client, Log: logr.Discard()}
	poller.Watch(refs)
	changes := make(chan providers.Change, 3000)
	lists := func() int { return server.Calls()["ListSecrets"] }
	poller.Cycle(context.Background(), changes) // counts the account: 20 pages

	rotated := refs[123]
	out, err := client.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: &rotated.Key, SecretString: sdkaws.String("v2")})
	if err != nil {
		t.Fatal(err)
	}
	drainChanges(changes)
	before := lists()
	poller.Cycle(context.Background(), changes)
	if got := lists() - before; got != 10 {
		t.Errorf("a sweep of 500 names under app/ made %d ListSecrets calls, want 10 (the 1,000 secrets under app/)", got)
	}
	if v, _ := poller.Current(rotated); v.ID != sdkaws.ToString(out.VersionId) {
		t.Errorf("the prefix sweep sees %s at %q, want the rotated version %q", rotated.Key, v.ID, sdkaws.ToString(out.VersionId))
	}
}
