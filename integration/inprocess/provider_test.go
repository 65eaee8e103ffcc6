package inprocess_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
	"github.com/eso-bridge/eso-bridge/integration/localsm"
)

// pollInterval is short so that tests wait seconds, not the 30s default.
const pollInterval = time.Second

var rolloutAuto = map[string]string{annotations.AnnotationRollout: "auto"}

// withAWS runs eso-bridge with the AWS provider pointed at the in-process endpoint.
func withAWS(s *harness.Scenario) bridge.ManagerOptions {
	return bridge.ManagerOptions{MetricsAddr: "0", HealthAddr: "0", Vault: s.LocalAWS(pollInterval)}
}

// consumerOfOneSecret creates an ExternalSecret "db" (rollout: auto, refresh
// 1h), a Deployment using it, and eso-bridge with the AWS provider, and waits
// until eso-bridge has adopted the Deployment and seen the current version.
func consumerOfOneSecret(t *testing.T) (*harness.Scenario, *esv1.ExternalSecret, client.Object) {
	s := harness.NewScenario(t)
	es := s.ExternalSecret("db", "v1", rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	s.StartBridgeWith(harness.TestOptions(), withAWS(s))
	s.WaitAdopted(api)
	letPollerLook()
	return s, es, api
}

// letPollerLook gives the poller a few cycles to see the current versions,
// which it adopts without triggering anything.
func letPollerLook() { time.Sleep(3 * pollInterval) }

// A new value put in AWS reaches the Secret and rolls the consumer once, with
// a refreshInterval of an hour: only eso-bridge's trigger can have done it.
func TestVaultRotationReachesPodsWithoutWaitingForRefreshInterval(t *testing.T) {
	s, es, api := consumerOfOneSecret(t)
	if got := annotation(s, es, annotations.AnnotationVaultVersions); got != "" {
		t.Errorf("eso-bridge triggered an ExternalSecret whose version had not moved (%s)", got)
	}

	detectedBefore := harness.Counter(t, "eso_bridge_vault_detection_seconds", nil)
	confirmedBefore := harness.Counter(t, "eso_bridge_trigger_to_sync_seconds", nil)
	put := time.Now()
	version, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "v2")
	if err != nil {
		t.Fatal(err)
	}
	s.WaitFor("ESO to write the new value", func() (bool, string) {
		got := secretValue(s, "db")
		return got == "v2", "the Secret holds " + got
	})
	t.Logf("vault put → ESO-written Secret: %s (poll interval %s)", time.Since(put).Round(time.Millisecond), pollInterval)
	if got := annotation(s, es, annotations.AnnotationVaultVersions); !strings.Contains(got, version) {
		t.Errorf("the ExternalSecret's %s is %q, want the new version %s", annotations.AnnotationVaultVersions, got, version)
	}
	s.ExpectRestarts(api, 1)
	if got := harness.Counter(t, "eso_bridge_vault_detection_seconds", nil) - detectedBefore; got != 1 {
		t.Errorf("eso_bridge_vault_detection_seconds observed %v moves, want 1", got)
	}
	if got := harness.Counter(t, "eso_bridge_trigger_to_sync_seconds", nil) - confirmedBefore; got != 1 {
		t.Errorf("eso_bridge_trigger_to_sync_seconds observed %v confirmed syncs, want 1", got)
	}
}

// A rotation Lambda's pending version triggers nothing; its promotion
// triggers exactly one rollout.
func TestPendingVersionWaitsForPromotion(t *testing.T) {
	s, es, api := consumerOfOneSecret(t)

	pending, err := s.CP.SecretsManager.PutPending(s.Ctx, s.RemoteKey("db"), "v2")
	if err != nil {
		t.Fatal(err)
	}
	letPollerLook()
	if got := annotation(s, es, annotations.AnnotationVaultVersions); got != "" {
		t.Errorf("a pending version triggered the ExternalSecret (%s)", got)
	}
	s.ExpectNoMoreRestartsThan(api, 0)

	if err := s.CP.SecretsManager.Promote(s.Ctx, s.RemoteKey("db"), pending); err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1)
	if got := secretValue(s, "db"); got != "v2" {
		t.Errorf("after the promotion the Secret holds %q, want v2", got)
	}
}

// An ExternalSecret pinned to a version ID never rotates.
func TestPinnedVersionIsNeverTriggered(t *testing.T) {
	s := harness.NewScenario(t)
	first, err := s.CP.SecretsManager.CreateSecret(s.Ctx, s.RemoteKey("pinned"), "v1")
	if err != nil {
		t.Fatal(err)
	}
	es := controlplane.ExternalSecret(s.NS, "pinned", s.RemoteKey("pinned"), "value", time.Hour)
	es.Annotations = rolloutAuto
	es.Spec.Data[0].RemoteRef.Version = "uuid/" + first
	if err := s.Client.Create(s.Ctx, es); err != nil {
		t.Fatal(err)
	}
	if _, err := controlplane.WaitForSync(s.Ctx, s.Client, client.ObjectKeyFromObject(es)); err != nil {
		t.Fatal(err)
	}
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "pinned")
	s.StartBridgeWith(harness.TestOptions(), withAWS(s))
	s.WaitAdopted(api)
	letPollerLook()

	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("pinned"), "v2"); err != nil {
		t.Fatal(err)
	}
	letPollerLook()
	if got := annotation(s, es, annotations.AnnotationVaultVersions); got != "" {
		t.Errorf("a pinned ExternalSecret was triggered (%s)", got)
	}
	s.ExpectNoMoreRestartsThan(api, 0)
}

func annotation(s *harness.Scenario, es *esv1.ExternalSecret, key string) string {
	return s.Get(es).GetAnnotations()[key]
}

// secretValue is the "value" key of Secret name, or the error reading it.
func secretValue(s *harness.Scenario, name string) string { return s.SecretData(name, "value") }

// A throttling and 5xx burst makes the poller back off (counted as errors in
// eso_bridge_aws_calls_total); it recovers and the rotation made during the
// burst is not missed.
func TestAWSFaultsBackOffAndMissNothing(t *testing.T) {
	s, _, api := consumerOfOneSecret(t)
	errorsBefore := harness.Counter(t, "eso_bridge_aws_calls_total", map[string]string{"operation": "ListSecrets", "result": "error"})
	s.CP.LocalSecretsManager.FailNext("ListSecrets", 2, localsm.Throttling)
	s.CP.LocalSecretsManager.FailNext("ListSecrets", 2, localsm.ServerError)
	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "v2"); err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1)
	if got := secretValue(s, "db"); got != "v2" {
		t.Errorf("the Secret holds %q after recovery, want v2", got)
	}
	if errs := harness.Counter(t, "eso_bridge_aws_calls_total", map[string]string{"operation": "ListSecrets", "result": "error"}) - errorsBefore; errs < 4 {
		t.Errorf("eso_bridge_aws_calls_total{ListSecrets,error} rose by %v, want at least the 4 injected faults", errs)
	}
}

// Two ExternalSecrets reading one AWS secret are both triggered by its
// rotation; one ExternalSecret reading two AWS secrets rotated together is
// triggered with both new versions, and its consumer rolls once.
func TestEveryReaderOfARotatedSecretIsTriggered(t *testing.T) {
	s := harness.NewScenario(t)
	sm := s.CP.SecretsManager
	for _, key := range []string{"shared", "x", "y"} {
		if _, err := sm.CreateSecret(s.Ctx, s.RemoteKey(key), "v1"); err != nil {
			t.Fatal(err)
		}
	}
	harness.WaitPastTheSecond()
	a := controlplane.ExternalSecret(s.NS, "a", s.RemoteKey("shared"), "value", time.Hour)
	b := controlplane.ExternalSecret(s.NS, "b", s.RemoteKey("shared"), "value", time.Hour)
	both := controlplane.ExternalSecret(s.NS, "both", s.RemoteKey("x"), "x", time.Hour)
	both.Spec.Data = append(both.Spec.Data, esv1.ExternalSecretData{SecretKey: "y", RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: s.RemoteKey("y")}})
	for _, es := range []*esv1.ExternalSecret{a, b, both} {
		es.Annotations = rolloutAuto
		if err := s.Client.Create(s.Ctx, es); err != nil {
			t.Fatal(err)
		}
		if _, err := controlplane.WaitForSync(s.Ctx, s.Client, client.ObjectKeyFromObject(es)); err != nil {
			t.Fatal(err)
		}
	}
	useA := s.Workload(harness.WorkloadKinds[0], "use-a", nil, "a")
	useB := s.Workload(harness.WorkloadKinds[0], "use-b", nil, "b")
	useBoth := s.Workload(harness.WorkloadKinds[0], "use-both", nil, "both")
	s.StartBridgeWith(harness.TestOptions(), withAWS(s))
	for _, w := range []client.Object{useA, useB, useBoth} {
		s.WaitAdopted(w)
	}
	letPollerLook()

	shared, err := sm.PutValue(s.Ctx, s.RemoteKey("shared"), "v2")
	if err != nil {
		t.Fatal(err)
	}
	x, err := sm.PutValue(s.Ctx, s.RemoteKey("x"), "v2")
	if err != nil {
		t.Fatal(err)
	}
	y, err := sm.PutValue(s.Ctx, s.RemoteKey("y"), "v2")
	if err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(useA, 1)
	s.ExpectRestarts(useB, 1)
	s.ExpectRestarts(useBoth, 1)
	for _, es := range []*esv1.ExternalSecret{a, b} {
		if got := annotation(s, es, annotations.AnnotationVaultVersions); !strings.Contains(got, shared) {
			t.Errorf("ExternalSecret %s was not triggered with the new version %s: %q", es.Name, shared, got)
		}
	}
	if got := annotation(s, both, annotations.AnnotationVaultVersions); !strings.Contains(got, x) || !strings.Contains(got, y) {
		t.Errorf("ExternalSecret both carries %q, want versions %s and %s", got, x, y)
	}
}

// An ExternalSecret reading the secrets a dataFrom.find matches by name is
// triggered when one of them rotates, and its consumer rolls once.
func TestFindByNameFollowsEveryMatchingSecret(t *testing.T) {
	s := harness.NewScenario(t)
	sm := s.CP.SecretsManager
	names := []string{s.NS + "-app-a", s.NS + "-app-b"}
	for _, name := range append(names, s.NS+"-other") {
		if _, err := sm.CreateSecret(s.Ctx, name, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	harness.WaitPastTheSecond()
	es := controlplane.ExternalSecret(s.NS, "apps", "unused", "unused", time.Hour)
	es.Annotations = rolloutAuto
	es.Spec.Data = nil
	es.Spec.DataFrom = []esv1.ExternalSecretDataFromRemoteRef{{Find: &esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: "^" + s.NS + "-app-"}}}}
	if err := s.Client.Create(s.Ctx, es); err != nil {
		t.Fatal(err)
	}
	if _, err := controlplane.WaitForSync(s.Ctx, s.Client, client.ObjectKeyFromObject(es)); err != nil {
		t.Fatal(err)
	}
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "apps")
	s.StartBridgeWith(harness.TestOptions(), withAWS(s))
	s.WaitAdopted(api)
	letPollerLook()

	if _, err := sm.PutValue(s.Ctx, s.NS+"-other", "v2"); err != nil {
		t.Fatal(err)
	}
	letPollerLook()
	if got := annotation(s, es, annotations.AnnotationVaultVersions); got != "" {
		t.Errorf("a secret the find does not match triggered the ExternalSecret (%s)", got)
	}
	version, err := sm.PutValue(s.Ctx, names[1], "v2")
	if err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1)
	if got := annotation(s, es, annotations.AnnotationVaultVersions); !strings.Contains(got, names[1]+"="+version) || !strings.Contains(got, names[0]+"=") {
		t.Errorf("the ExternalSecret carries %q, want both matching secrets with %s's new version", got, names[1])
	}
}

// A dataFrom.find by tags is followed too (ESO reads it with
// BatchGetSecretValue, which the in-process endpoint serves).
func TestFindByTagsFollowsEveryTaggedSecret(t *testing.T) {
	s := harness.NewScenario(t)
	sm := s.CP.SecretsManager
	tagged := []string{s.NS + "-pay-a", s.NS + "-pay-b"}
	for _, name := range tagged {
		if _, err := sm.Client.CreateSecret(s.Ctx, &secretsmanager.CreateSecretInput{
			Name: sdkaws.String(name), SecretString: sdkaws.String("v1"),
			Tags: []smtypes.Tag{{Key: sdkaws.String("team"), Value: sdkaws.String(s.NS)}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	harness.WaitPastTheSecond()
	es := controlplane.ExternalSecret(s.NS, "payments", "unused", "unused", time.Hour)
	es.Annotations = rolloutAuto
	es.Spec.Data = nil
	es.Spec.DataFrom = []esv1.ExternalSecretDataFromRemoteRef{{Find: &esv1.ExternalSecretFind{Tags: map[string]string{"team": s.NS}}}}
	if err := s.Client.Create(s.Ctx, es); err != nil {
		t.Fatal(err)
	}
	if _, err := controlplane.WaitForSync(s.Ctx, s.Client, client.ObjectKeyFromObject(es)); err != nil {
		t.Fatal(err)
	}
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "payments")
	s.StartBridgeWith(harness.TestOptions(), withAWS(s))
	s.WaitAdopted(api)
	letPollerLook()

	version, err := sm.PutValue(s.Ctx, tagged[0], "v2")
	if err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1)
	if got := annotation(s, es, annotations.AnnotationVaultVersions); !strings.Contains(got, tagged[0]+"="+version) || !strings.Contains(got, tagged[1]+"=") {
		t.Errorf("the ExternalSecret carries %q, want both tagged secrets with %s's new version", got, tagged[0])
	}
}

// An ExternalSecret whose refresh is disabled cannot be sped up: the trigger
// says so with a Warning on it.
func TestDisabledRefreshIsReportedOnTheExternalSecret(t *testing.T) {
	s := harness.NewScenario(t)
	if _, err := s.CP.SecretsManager.CreateSecret(s.Ctx, s.RemoteKey("once"), "v1"); err != nil {
		t.Fatal(err)
	}
	es := controlplane.ExternalSecret(s.NS, "once", s.RemoteKey("once"), "value", 0)
	es.Annotations = rolloutAuto
	if err := s.Client.Create(s.Ctx, es); err != nil {
		t.Fatal(err)
	}
	if _, err := controlplane.WaitForSync(s.Ctx, s.Client, client.ObjectKeyFromObject(es)); err != nil {
		t.Fatal(err)
	}
	s.StartBridgeWith(harness.TestOptions(), withAWS(s))
	letPollerLook()
	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("once"), "v2"); err != nil {
		t.Fatal(err)
	}
	if msg := s.WaitEvent(events.ReasonRefreshDisabled, "once"); !strings.Contains(msg, "refreshInterval is 0") {
		t.Errorf("the Warning says %q", msg)
	}
}

// A rotation made while eso-bridge was not running — the vault changed after
// ESO's last fetch — is caught when it starts, though it first sees that
// version then: one restart, not zero.
func TestRotationWhileTheControllerWasDownIsCaughtAtStart(t *testing.T) {
	s := harness.NewScenario(t)
	es := s.ExternalSecret("db", "v1", rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	time.Sleep(1100 * time.Millisecond) // past the second of ESO's fetch, which its status records
	version, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "v2")
	if err != nil {
		t.Fatal(err)
	}
	s.StartBridgeWith(harness.TestOptions(), withAWS(s))
	s.ExpectRestarts(api, 1)
	if got := secretValue(s, "db"); got != "v2" {
		t.Errorf("the Secret holds %q, want v2", got)
	}
	if got := annotation(s, es, annotations.AnnotationVaultVersions); !strings.Contains(got, version) {
		t.Errorf("the ExternalSecret's %s is %q, want %s", annotations.AnnotationVaultVersions, got, version)
	}
}

// A rotation made within the second of ESO's last sync, while eso-bridge was
// not running, cannot be told from one ESO fetched (ESO records its refresh
// to the second and discards version IDs): eso-bridge triggers it when it
// starts, and the consumer restarts once into the new value.
func TestRotationInTheSecondOfESOsSyncIsCaughtAtStart(t *testing.T) {
	s := harness.NewScenario(t)
	es := s.ExternalSecret("db", "v1", rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	var version, value string
	for attempt := 1; ; attempt++ {
		synced := s.Get(es).(*esv1.ExternalSecret)
		value = fmt.Sprintf("v%d", attempt+1)
		var err error
		if version, err = s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), value); err != nil {
			t.Fatal(err)
		}
		if time.Now().Truncate(time.Second).Equal(synced.Status.RefreshTime.Time) {
			break // the put landed in the second ESO's status records
		}
		if attempt == 5 {
			t.Fatal("could not put a value within the second of ESO's sync in 5 attempts")
		}
		s.Refresh("db") // ESO fetches the value just put; try again right after
	}
	s.StartBridgeWith(harness.TestOptions(), withAWS(s))
	s.ExpectRestarts(api, 1)
	if got := annotation(s, es, annotations.AnnotationVaultVersions); !strings.Contains(got, version) {
		t.Errorf("the ExternalSecret's %s is %q, want %s", annotations.AnnotationVaultVersions, got, version)
	}
	if got := secretValue(s, "db"); got != value {
		t.Errorf("the Secret holds %q, want %q", got, value)
	}
}

// An ExternalSecret ESO will not refresh (refreshInterval 0, or refreshPolicy
// CreatedOnce) is warned about when eso-bridge first sees it, gets no
// trigger it could never answer, and does not hold the restart a rotation of
// the workload's other source needs, though its own metadata changed.
func TestASourceESOWillNotRefreshHoldsNothing(t *testing.T) {
	s := harness.NewScenario(t)
	static := staticExternalSecret(s, "static", func(es *esv1.ExternalSecret) { es.Spec.RefreshInterval = &metav1.Duration{} })
	once := staticExternalSecret(s, "once", func(es *esv1.ExternalSecret) { es.Spec.RefreshPolicy = esv1.RefreshPolicyCreatedOnce })
	s.ExternalSecret("db", "v1", nil)
	api := s.Workload(harness.WorkloadKinds[0], "api", map[string]string{annotations.AnnotationAuto: "true"}, "db", "static", "once")
	s.StartBridgeWith(harness.TestOptions(), withAWS(s))
	s.WaitAdopted(api)
	s.WaitEventSaying(events.ReasonRefreshDisabled, "static", "refreshInterval is 0")
	s.WaitEventSaying(events.ReasonRefreshDisabled, "once", "refreshPolicy is CreatedOnce")
	letPollerLook()

	for _, es := range []*esv1.ExternalSecret{static, once} {
		patch := []byte(`{"metadata":{"labels":{"team":"payments"}}}`)
		if err := s.Client.Patch(s.Ctx, es, client.RawPatch("application/merge-patch+json", patch)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey(es.Name), "v2"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "v2"); err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1)
	for _, es := range []*esv1.ExternalSecret{static, once} {
		if got := annotation(s, es, annotations.AnnotationVaultVersions); got != "" {
			t.Errorf("ExternalSecret %s, which ESO will not refresh, was triggered (%s)", es.Name, got)
		}
	}
}

// staticExternalSecret creates an ExternalSecret for a new AWS secret,
// changed by change before it is created, and waits for ESO's first sync.
func staticExternalSecret(s *harness.Scenario, name string, change func(*esv1.ExternalSecret)) *esv1.ExternalSecret {
	s.T.Helper()
	if _, err := s.CP.SecretsManager.CreateSecret(s.Ctx, s.RemoteKey(name), "v1"); err != nil {
		s.T.Fatal(err)
	}
	harness.WaitPastTheSecond()
	es := controlplane.ExternalSecret(s.NS, name, s.RemoteKey(name), "value", time.Hour)
	change(es)
	if err := s.Client.Create(s.Ctx, es); err != nil {
		s.T.Fatal(err)
	}
	synced, err := controlplane.WaitForSync(s.Ctx, s.Client, client.ObjectKeyFromObject(es))
	if err != nil {
		s.T.Fatal(err)
	}
	return synced
}

// A tenant whose namespace a shared ClusterSecretStore does not admit learns
// nothing through it: ESO refuses the tenant's ExternalSecret, and eso-bridge
// follows nothing for it, so no name, version ID or ARN of the store's
// secrets appears on the tenant's own ExternalSecret.
func TestATenantTheStoreDoesNotAdmitLearnsNothingThroughIt(t *testing.T) {
	s := harness.NewScenario(t)
	secret := s.NS + "-payments-db"
	if _, err := s.CP.SecretsManager.CreateSecret(s.Ctx, secret, "v1"); err != nil {
		t.Fatal(err)
	}
	_, store := controlplane.ClusterSecretStoreObjects(s.NS) // its keys are the namespace's own
	store.Name = s.NS + "-shared"
	store.Spec.Conditions = []esv1.ClusterSecretStoreCondition{{Namespaces: []string{"payments"}}}
	if err := s.Client.Create(s.Ctx, store); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Client.Delete(context.Background(), store) })
	peek := controlplane.ExternalSecret(s.NS, "peek", "unused", "unused", time.Hour)
	peek.Spec.SecretStoreRef = esv1.SecretStoreRef{Kind: esv1.ClusterSecretStoreKind, Name: store.Name}
	peek.Spec.Data = nil
	peek.Spec.DataFrom = []esv1.ExternalSecretDataFromRemoteRef{{Find: &esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: ".*"}}}}
	if err := s.Client.Create(s.Ctx, peek); err != nil {
		t.Fatal(err)
	}
	s.StartBridgeWith(harness.TestOptions(), withAWS(s))
	letPollerLook()
	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, secret, "v2"); err != nil {
		t.Fatal(err)
	}
	letPollerLook()
	for _, key := range []string{annotations.AnnotationVaultVersions, annotations.AnnotationVaultARNs, annotations.AnnotationTraceparent} {
		if got := annotation(s, peek, key); got != "" {
			t.Errorf("the tenant's ExternalSecret carries %s: %.200s", key, got)
		}
	}
}
