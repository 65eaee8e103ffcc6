package aws_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	esmeta "github.com/external-secrets/external-secrets/apis/meta/v1"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/eso-bridge/eso-bridge/integration/localsm"
	"github.com/eso-bridge/eso-bridge/providers"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// ownKey is the access key of eso-bridge's own credentials in these tests.
const ownKey = "AKIACONTROLLER"

// identityBed is the local endpoint, and Identities that start from
// eso-bridge's own key there.
func identityBed(t *testing.T) (*localsm.Server, awsprovider.Identities, string) {
	t.Helper()
	server := localsm.New(localsm.Options{})
	url, err := server.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	ids := awsprovider.Identities{Base: func(_ context.Context, region string) (sdkaws.Config, error) {
		return sdkaws.Config{Region: region, BaseEndpoint: sdkaws.String(url),
			Credentials: credentials.NewStaticCredentialsProvider(ownKey, "local", "")}, nil
	}}
	return server, ids, url
}

// clientAs is a Secrets Manager client of the endpoint at url signing with
// accessKey.
func clientAs(url, accessKey string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: sdkaws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, "local", "")})
}

// putAs creates secret name with value in the account of accessKey and
// returns its AWSCURRENT version ID.
func putAs(t *testing.T, url, accessKey, name, value string) string {
	t.Helper()
	out, err := clientAs(url, accessKey).CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: sdkaws.String(name), SecretString: sdkaws.String(value)})
	if err != nil {
		t.Fatal(err)
	}
	return sdkaws.ToString(out.VersionId)
}

// sweep watches refs with a poller built on ids and runs one cycle; it
// returns the poller and what the cycle reported.
func sweep(t *testing.T, ids awsprovider.Identities, unfollowed *prometheus.GaugeVec, refs ...providers.Ref) (*awsprovider.Poller, []providers.Change) {
	t.Helper()
	poller := &awsprovider.Poller{Clients: ids.Client, Unfollowed: unfollowed, Log: logr.Discard()}
	poller.Watch(refs)
	changes := make(chan providers.Change, 16)
	poller.Cycle(context.Background(), changes)
	close(changes)
	var out []providers.Change
	for c := range changes {
		out = append(out, c)
	}
	return poller, out
}

// A store without a role is read with eso-bridge's own key; a store whose
// role is in another account reads that account's secret, not the
// same-named one of eso-bridge's account.
func TestAStoreWithARoleInAnotherAccountIsReadThere(t *testing.T) {
	server, ids, url := identityBed(t)
	const role = "arn:aws:iam::111111111111:role/secrets-reader"
	ownVersion := putAs(t, url, ownKey, "db", "ours")
	theirVersion := putAs(t, url, localsm.AssumedAccessKey(role), "db", "theirs")

	own := providers.Ref{Store: awsprovider.Store{Region: "us-east-1"}.ID(), Key: "db"}
	theirs := providers.Ref{Store: awsprovider.Store{Region: "us-east-1", Role: role}.ID(), Key: "db"}
	poller, changes := sweep(t, ids, nil, own, theirs)

	if len(changes) != 2 {
		t.Fatalf("%d first sightings reported, want 2 (one per store): %+v", len(changes), changes)
	}
	if v, _ := poller.Current(own); v.ID != ownVersion {
		t.Errorf("the store without a role sees version %q, want %q (eso-bridge's own account)", v.ID, ownVersion)
	}
	if v, _ := poller.Current(theirs); v.ID != theirVersion {
		t.Errorf("the store with a role in 111111111111 sees version %q, want %q (that account's secret)", v.ID, theirVersion)
	}
	signers := server.AccessKeys()["ListSecrets"]
	if !slices.Contains(signers, ownKey) || !slices.Contains(signers, localsm.AssumedAccessKey(role)) {
		t.Errorf("ListSecrets signers %v, want eso-bridge's own key and the role's", signers)
	}
}

// A chain of additional roles is assumed in order, each with the one
// before; the store's role comes last, with its external ID and session
// tags, as ESO assumes them.
func TestARoleChainWithExternalIDAndSessionTagsIsAssumedAsESODoes(t *testing.T) {
	server, ids, url := identityBed(t)
	const (
		hub    = "arn:aws:iam::222222222222:role/hub"
		target = "arn:aws:iam::333333333333:role/reader"
	)
	server.RequireExternalID(target, "tenant-7")
	version := putAs(t, url, localsm.AssumedAccessKey(target), "app/db", "v1")

	provider := &esv1.AWSProvider{Service: esv1.AWSServiceSecretsManager, Region: "us-east-1", Role: target,
		AdditionalRoles: []string{hub}, ExternalID: "tenant-7", TransitiveTagKeys: []string{"team"},
		SessionTags: []*esv1.Tag{{Key: "team", Value: "payments"}, {Key: "env", Value: "prod"}}}
	ref := providers.Ref{Store: awsprovider.StoreOf(provider, esv1.SecretStoreKind, "payments").ID(), Key: "app/db"}
	poller, _ := sweep(t, ids, nil, ref)

	if v, _ := poller.Current(ref); v.ID != version {
		t.Fatalf("the chained store sees version %q, want %q; problem: %v; STS calls: %+v", v.ID, version, poller.Problem(ref), server.STSCalls())
	}
	calls := server.STSCalls()
	if len(calls) != 2 || calls[0].Role != hub || calls[1].Role != target {
		t.Fatalf("STS calls %+v, want AssumeRole of %s then %s", calls, hub, target)
	}
	if calls[0].Signer != ownKey || calls[1].Signer != localsm.AssumedAccessKey(hub) {
		t.Errorf("signers %q then %q, want eso-bridge's own key then the hub role's", calls[0].Signer, calls[1].Signer)
	}
	last := calls[1]
	if last.ExternalID != "tenant-7" || !slices.Equal(last.Tags, []string{"env=prod", "team=payments"}) || !slices.Equal(last.TransitiveTagKeys, []string{"team"}) {
		t.Errorf("the store's role was assumed with %+v, want external ID tenant-7, tags env=prod and team=payments, team transitive", last)
	}

	// The same store without the external ID is refused by the role's trust
	// policy: every secret read through it is reported, none watched.
	provider.ExternalID = ""
	refused := providers.Ref{Store: awsprovider.StoreOf(provider, esv1.SecretStoreKind, "payments").ID(), Key: "app/db"}
	poller, changes := sweep(t, ids, nil, refused)
	if _, seen := poller.Current(refused); seen {
		t.Error("a store whose role refuses eso-bridge still reports a version")
	}
	if err := poller.Problem(refused); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("problem %v, want the role's AccessDenied", err)
	}
	if len(changes) != 1 || changes[0].Failed == nil {
		t.Errorf("changes %+v, want one failure, to tell the readers", changes)
	}
}

// A store that authenticates with static keys from a Secret is not watched
// unless eso-bridge may read those keys: no AWS call is made with
// eso-bridge's own credentials (they may reach a same-named secret of
// another account), its readers learn why, and the metric counts it.
func TestAStaticKeysStoreIsNotWatchedWithoutTheFlag(t *testing.T) {
	server, ids, url := identityBed(t)
	putAs(t, url, ownKey, "db", "v1")
	provider := &esv1.AWSProvider{Service: esv1.AWSServiceSecretsManager, Region: "us-east-1", Auth: esv1.AWSAuth{SecretRef: &esv1.AWSAuthSecretRef{
		AccessKeyID:     esmeta.SecretKeySelector{Name: "aws-keys", Key: "id"},
		SecretAccessKey: esmeta.SecretKeySelector{Name: "aws-keys", Key: "secret"},
	}}}
	ref := providers.Ref{Store: awsprovider.StoreOf(provider, esv1.SecretStoreKind, "team-a").ID(), Key: "db"}
	unfollowed := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "unfollowed"}, []string{"reason"})
	poller, changes := sweep(t, ids, unfollowed, ref)

	if calls := server.Calls(); len(calls) != 1 || calls["CreateSecret"] != 1 {
		t.Errorf("calls %v, want none but the test's own CreateSecret", calls)
	}
	var identity *awsprovider.IdentityError
	if err := poller.Problem(ref); !errors.As(err, &identity) || identity.Reason != awsprovider.ReasonStaticKeysNotRead ||
		!strings.Contains(err.Error(), "team-a/aws-keys") || !strings.Contains(err.Error(), "--aws-read-store-keys") {
		t.Errorf("problem %v, want one naming Secret team-a/aws-keys and the flag", err)
	}
	if len(changes) != 1 || changes[0].Failed == nil {
		t.Errorf("changes %+v, want one failure, to tell the readers", changes)
	}
	if got := testutil.ToFloat64(unfollowed.WithLabelValues(awsprovider.ReasonStaticKeysNotRead)); got != 1 {
		t.Errorf("stores unfollowed for static keys: %v, want 1", got)
	}
}

// Store IDs carry the whole identity, and read back to it.
func TestStoreIDsRoundTrip(t *testing.T) {
	for _, store := range []awsprovider.Store{
		{Region: "us-east-1"},
		{Region: "eu-west-1", Role: "arn:aws:iam::111111111111:role/path/reader"},
		{Region: "eu-west-1", Role: "arn:aws:iam::111111111111:role/r", AdditionalRoles: []string{"arn:aws:iam::2:role/a", "arn:aws:iam::3:role/b"},
			ExternalID: "x&y=z", SessionTags: []string{"a=1", "b=2"}, TransitiveTagKeys: []string{"a"}},
		{Region: "us-east-1", ServiceAccount: "team-a/reader", Audiences: []string{"extra"}},
		{Region: "us-east-1", AccessKeyID: "ns/keys/id", SecretAccessKey: "ns/keys/secret", SessionToken: "ns/keys/token"},
	} {
		back, ok := awsprovider.ParseStoreID(store.ID())
		if !ok || back.ID() != store.ID() {
			t.Errorf("%q read back as %q (ok %v)", store.ID(), back.ID(), ok)
		}
	}
	a := awsprovider.Store{Region: "us-east-1", Role: "r", ExternalID: "one"}
	b := awsprovider.Store{Region: "us-east-1", Role: "r", ExternalID: "two"}
	if a.ID() == b.ID() {
		t.Errorf("two external IDs share the store ID %q", a.ID())
	}
}
