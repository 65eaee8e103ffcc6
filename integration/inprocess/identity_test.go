package inprocess_test

import (
	"slices"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	esmeta "github.com/external-secrets/external-secrets/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
	"github.com/eso-bridge/eso-bridge/integration/localsm"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// accountBed is a scenario whose SecretStore reaches the account of role,
// with a consumer of its secret "db" and eso-bridge started.
type accountBed struct {
	s   *harness.Scenario
	es  *esv1.ExternalSecret
	api client.Object
	// theirs writes into the store's account, ours into the endpoint's
	// default account (eso-bridge's own credentials).
	theirs, ours *controlplane.SecretsManager
}

// newAccountBed changes the scenario's SecretStore with change, puts "db"
// into role's account (and a same-named secret into the default account),
// and starts eso-bridge with mo once ESO has synced the store's version.
func newAccountBed(t *testing.T, role string, change func(*harness.Scenario, *esv1.AWSProvider), mo func(*harness.Scenario) bridge.ManagerOptions) *accountBed {
	s := harness.NewScenario(t)
	b := &accountBed{s: s, ours: s.CP.SecretsManager,
		theirs: controlplane.NewSecretsManagerAs(s.CP.SecretsManagerURL, localsm.AssumedAccessKey(role))}
	store := &esv1.SecretStore{}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := s.Client.Get(s.Ctx, client.ObjectKey{Namespace: s.NS, Name: controlplane.SecretStoreName}, store); err != nil {
			return err
		}
		change(s, store.Spec.Provider.AWS)
		return s.Client.Update(s.Ctx, store)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ours.CreateSecret(s.Ctx, s.RemoteKey("db"), "ours-v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.theirs.CreateSecret(s.Ctx, s.RemoteKey("db"), "theirs-v1"); err != nil {
		t.Fatal(err)
	}
	harness.WaitPastTheSecond()
	es := controlplane.ExternalSecret(s.NS, "db", s.RemoteKey("db"), "value", time.Hour)
	es.Annotations = rolloutAuto
	if err := s.Client.Create(s.Ctx, es); err != nil {
		t.Fatal(err)
	}
	synced, err := controlplane.WaitForSync(s.Ctx, s.Client, client.ObjectKeyFromObject(es))
	if err != nil {
		t.Fatal(err)
	}
	// The bed itself: ESO reads the store's account, not the default one.
	if got := secretValue(s, "db"); got != "theirs-v1" {
		t.Fatalf("ESO synced %q through the store, want theirs-v1 (the store's account)", got)
	}
	b.es = synced
	b.api = s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	s.StartBridgeWith(harness.TestOptions(), mo(s))
	s.WaitAdopted(b.api)
	letPollerLook()
	return b
}

// rotateTheirs rotates "db" in the store's account and expects its one
// restart, with the new value in the Secret.
func (b *accountBed) rotateTheirs(t *testing.T) {
	t.Helper()
	if _, err := b.theirs.PutValue(b.s.Ctx, b.s.RemoteKey("db"), "theirs-v2"); err != nil {
		t.Fatal(err)
	}
	b.s.ExpectRestarts(b.api, 1)
	if got := secretValue(b.s, "db"); got != "theirs-v2" {
		t.Errorf("the Secret holds %q, want theirs-v2", got)
	}
}

// eso-bridge's STS calls: those of its session name (ESO's have the SDK's).
func bridgeSTSCalls(s *harness.Scenario) []localsm.STSCall {
	var calls []localsm.STSCall
	for _, call := range s.CP.LocalSecretsManager.STSCalls() {
		if call.Session == "eso-bridge" {
			calls = append(calls, call)
		}
	}
	return calls
}

// A store whose role is in another account: eso-bridge watches that
// account's secret, as ESO reads it. A rotation of a same-named secret in
// eso-bridge's own account triggers nothing; the store's rotation restarts
// the consumer once.
func TestAStoreReadingAnotherAccountIsWatchedThere(t *testing.T) {
	const role = "arn:aws:iam::111111111111:role/secrets-reader"
	b := newAccountBed(t, role, func(_ *harness.Scenario, p *esv1.AWSProvider) { p.Role = role }, withAWS)

	if _, err := b.ours.PutValue(b.s.Ctx, b.s.RemoteKey("db"), "ours-v2"); err != nil {
		t.Fatal(err)
	}
	letPollerLook()
	if got := annotation(b.s, b.es, annotations.AnnotationTraceparent); got != "" {
		t.Errorf("a rotation in eso-bridge's own account triggered the store of account 111111111111 (traceparent %s)", got)
	}
	b.rotateTheirs(t)
	b.s.ExpectNoMoreRestartsThan(b.api, 1)
}

// A store's role that requires an external ID, with session tags: eso-bridge
// assumes it with both, as ESO does, and the role's rotation restarts the
// consumer once.
func TestAStoresExternalIDAndSessionTagsReachItsRole(t *testing.T) {
	const role = "arn:aws:iam::222222222222:role/tenant-reader"
	b := newAccountBed(t, role, func(s *harness.Scenario, p *esv1.AWSProvider) {
		s.CP.LocalSecretsManager.RequireExternalID(role, "tenant-7")
		p.Role, p.ExternalID = role, "tenant-7"
		p.SessionTags = []*esv1.Tag{{Key: "team", Value: "payments"}}
	}, withAWS)
	b.rotateTheirs(t)

	calls := bridgeSTSCalls(b.s)
	i := slices.IndexFunc(calls, func(c localsm.STSCall) bool { return c.Role == role })
	if i < 0 {
		t.Fatalf("eso-bridge never assumed %s; its STS calls: %+v", role, calls)
	}
	if c := calls[i]; c.Refused != "" || c.ExternalID != "tenant-7" || !slices.Equal(c.Tags, []string{"team=payments"}) {
		t.Errorf("eso-bridge assumed the role with %+v, want external ID tenant-7 and tag team=payments", c)
	}
}

// A store with auth.jwt: eso-bridge requests a token of the store's
// ServiceAccount and exchanges it for the role of its annotation, as ESO
// does, and the role's rotation restarts the consumer once.
func TestAJWTStoreIsReachedWithItsServiceAccountsToken(t *testing.T) {
	const role = "arn:aws:iam::333333333333:role/team-a-reader"
	b := newAccountBed(t, role, func(s *harness.Scenario, p *esv1.AWSProvider) {
		serviceAccount(s, "secrets-reader", role)
		p.Auth = esv1.AWSAuth{JWTAuth: &esv1.AWSJWTAuth{ServiceAccountRef: &esmeta.ServiceAccountSelector{Name: "secrets-reader"}}}
	}, withAWS)
	b.rotateTheirs(t)

	calls := bridgeSTSCalls(b.s)
	i := slices.IndexFunc(calls, func(c localsm.STSCall) bool { return c.Action == "AssumeRoleWithWebIdentity" })
	if i < 0 {
		t.Fatalf("eso-bridge made no AssumeRoleWithWebIdentity call; its STS calls: %+v", calls)
	}
	if c := calls[i]; c.Role != role || c.Subject != "system:serviceaccount:"+b.s.NS+":secrets-reader" || !slices.Contains(c.Audiences, "sts.amazonaws.com") {
		t.Errorf("eso-bridge exchanged %+v, want a token of %s/secrets-reader for sts.amazonaws.com, for %s", c, b.s.NS, role)
	}
}

// Static keys in a Secret, and eso-bridge not allowed to read them (the
// default): the store is not watched — no call with eso-bridge's own
// credentials in its place —, its ExternalSecret says why, and the metric
// counts it. Every other test of this package runs with the flag on.
func TestAStaticKeysStoreIsNotWatchedWithoutTheFlag(t *testing.T) {
	const role = "arn:aws:iam::444444444444:role/reader"
	b := newAccountBed(t, role, func(_ *harness.Scenario, p *esv1.AWSProvider) { p.Role = role }, func(s *harness.Scenario) bridge.ManagerOptions {
		mo := withAWS(s)
		opts := s.LocalAWSOptions(pollInterval)
		opts.Identities.ReadStaticKeys = false
		mo.Vault = awsprovider.New(opts)
		return mo
	})
	b.s.WaitEventSaying(events.ReasonVaultUnreadable, "db", "--aws-read-store-keys")
	unfollowed := harness.Counter(t, "eso_bridge_aws_stores_unfollowed", map[string]string{"reason": awsprovider.ReasonStaticKeysNotRead})
	if unfollowed < 1 {
		t.Errorf("eso_bridge_aws_stores_unfollowed{reason=%q} = %v, want at least 1", awsprovider.ReasonStaticKeysNotRead, unfollowed)
	}
	for _, call := range bridgeSTSCalls(b.s) {
		if call.Role == role {
			t.Errorf("eso-bridge assumed the role of a store it may not reach: %+v", call)
		}
	}
	if _, err := b.theirs.PutValue(b.s.Ctx, b.s.RemoteKey("db"), "theirs-v2"); err != nil {
		t.Fatal(err)
	}
	letPollerLook()
	if got := annotation(b.s, b.es, annotations.AnnotationTraceparent); got != "" {
		t.Errorf("an unwatched store's ExternalSecret was triggered (traceparent %s)", got)
	}
}

// serviceAccount creates ServiceAccount name in namespace with role in its
// IRSA annotation, unless it exists (a store update retried on a conflict
// asks again).
func serviceAccount(s *harness.Scenario, name, role string) {
	s.T.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: s.NS, Name: name,
		Annotations: map[string]string{"eks.amazonaws.com/role-arn": role}}}
	if err := s.Client.Create(s.Ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		s.T.Fatal(err)
	}
}
