package inprocess_test

import (
	"context"
	"strings"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// A rotation of the secret a ClusterExternalSecret projects into two
// namespaces reaches each namespace's Secret and restarts each consumer once;
// eso-bridge writes one trigger for the new version, and the generated
// ExternalSecrets then stay quiet — no loop of writes and refreshes with
// ESO's ClusterExternalSecret controller, which rewrites their annotations.
func TestARotationOfAClusterExternalSecretsSecretRestartsEachNamespaceOnce(t *testing.T) {
	s := harness.NewScenario(t)
	_, store := controlplane.ClusterSecretStoreObjects(s.NS) // its keys are the namespace's own
	store.Name = s.NS + "-shared"
	if err := s.Client.Create(s.Ctx, store); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Client.Delete(context.Background(), store) })
	ces, other, remote := projectedIntoTwoNamespaces(s, esv1.SecretStoreRef{Kind: esv1.ClusterSecretStoreKind, Name: store.Name})
	var workloads []client.Object
	for _, sc := range []*harness.Scenario{s, other} {
		workloads = append(workloads, sc.Workload(harness.WorkloadKinds[0], "api", nil, "db"))
	}
	opts := harness.TestOptions()
	opts.Namespaces = []string{s.NS, other.NS}
	s.StartBridgeWith(opts, withAWS(s))
	s.WaitAdopted(workloads[0])
	other.WaitAdopted(workloads[1])
	letPollerLook()
	before := generation(s, ces)

	version, err := s.CP.SecretsManager.PutValue(s.Ctx, remote, "v2")
	if err != nil {
		t.Fatal(err)
	}
	for i, sc := range []*harness.Scenario{s, other} {
		sc.WaitFor("ESO to write the new value in "+sc.NS, func() (bool, string) {
			got := secretValue(sc, "db")
			return got == "v2", "the Secret holds " + got
		})
		sc.ExpectRestarts(workloads[i], 1)
		es := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: sc.NS, Name: "db"}}
		if got := annotation(sc, es, annotations.AnnotationVaultVersions); !strings.Contains(got, version) {
			t.Errorf("the ExternalSecret in %s carries %s=%q, want the new version %s", sc.NS, annotations.AnnotationVaultVersions, got, version)
		}
	}
	if got := generation(s, ces) - before; got != 1 {
		t.Errorf("the ClusterExternalSecret was written %d times for one rotation, want 1", got)
	}
	// Quiet: no ExternalSecret changes any more once the rotation is done.
	quiet := map[string]string{}
	for _, sc := range []*harness.Scenario{s, other} {
		quiet[sc.NS] = resourceVersion(s, sc.NS)
	}
	letPollerLook()
	for _, sc := range []*harness.Scenario{s, other} {
		if got := resourceVersion(s, sc.NS); got != quiet[sc.NS] {
			t.Errorf("the ExternalSecret in %s is still being written after the rotation (resourceVersion %s, then %s)", sc.NS, quiet[sc.NS], got)
		}
	}
	for i, sc := range []*harness.Scenario{s, other} {
		sc.ExpectNoMoreRestartsThan(workloads[i], 1)
	}
}

// generation is the ClusterExternalSecret's metadata.generation: each write
// to its spec (where its template is) adds one.
func generation(s *harness.Scenario, ces *esv1.ClusterExternalSecret) int64 {
	s.T.Helper()
	got := &esv1.ClusterExternalSecret{}
	if err := s.Client.Get(s.Ctx, client.ObjectKeyFromObject(ces), got); err != nil {
		s.T.Fatal(err)
	}
	return got.Generation
}

// resourceVersion is the resourceVersion of the ExternalSecret "db" in namespace.
func resourceVersion(s *harness.Scenario, namespace string) string {
	s.T.Helper()
	got := &esv1.ExternalSecret{}
	if err := s.Client.Get(s.Ctx, client.ObjectKey{Namespace: namespace, Name: "db"}, got); err != nil {
		s.T.Fatal(err)
	}
	return got.ResourceVersion
}

// projectedIntoTwoNamespaces creates an AWS secret and a ClusterExternalSecret
// (rollout: auto) that projects it, as the ExternalSecret "db" reading it
// through storeRef, into the scenario's namespace and a second one, and
// waits until ESO has synced both. It returns the ClusterExternalSecret, the
// second namespace's scenario and the AWS secret's name.
func projectedIntoTwoNamespaces(s *harness.Scenario, storeRef esv1.SecretStoreRef) (*esv1.ClusterExternalSecret, *harness.Scenario, string) {
	t := s.T
	other := *s
	other.NS = harness.Namespace(t)
	harness.SecretStore(t, other.NS)
	remote := s.NS + "-shared-db"
	if _, err := s.CP.SecretsManager.CreateSecret(s.Ctx, remote, "v1"); err != nil {
		t.Fatal(err)
	}
	// The ClusterExternalSecret selects the two namespaces by a label.
	selector := map[string]string{"eso-bridge.io/test-ces": s.NS}
	for _, sc := range []*harness.Scenario{s, &other} {
		namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sc.NS}}
		labels := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"eso-bridge.io/test-ces":"`+s.NS+`"}}}`))
		if err := s.Client.Patch(s.Ctx, namespace, labels); err != nil {
			t.Fatal(err)
		}
	}
	harness.WaitPastTheSecond()
	generated := controlplane.ExternalSecret("", "db", remote, "value", time.Hour)
	generated.Spec.SecretStoreRef = storeRef
	ces := &esv1.ClusterExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: s.NS + "-db"},
		Spec: esv1.ClusterExternalSecretSpec{
			ExternalSecretSpec:     generated.Spec,
			ExternalSecretName:     "db",
			ExternalSecretMetadata: esv1.ExternalSecretMetadata{Annotations: rolloutAuto},
			NamespaceSelectors:     []*metav1.LabelSelector{{MatchLabels: selector}},
		},
	}
	if err := s.Client.Create(s.Ctx, ces); err != nil {
		t.Fatal(err)
	}
	// Runs before the namespaces are deleted: ESO holds them with a
	// finalizer until the ClusterExternalSecret is gone.
	t.Cleanup(func() { _ = s.Client.Delete(context.Background(), ces) })
	for _, sc := range []*harness.Scenario{s, &other} {
		if _, err := controlplane.WaitForSync(s.Ctx, s.Client, client.ObjectKey{Namespace: sc.NS, Name: "db"}); err != nil {
			t.Fatal(err)
		}
	}
	return ces, &other, remote
}

// A ClusterExternalSecret that reads through a namespaced SecretStore gives
// every namespace the same annotations while each namespace's store may
// reach another vault: eso-bridge says so on each generated ExternalSecret,
// writes no trigger, and lets nothing wait for one.
func TestAClusterExternalSecretOnNamespacedStoresIsWarnedAboutNotLooped(t *testing.T) {
	s := harness.NewScenario(t)
	ces, other, remote := projectedIntoTwoNamespaces(s, esv1.SecretStoreRef{Kind: esv1.SecretStoreKind, Name: controlplane.SecretStoreName})
	opts := harness.TestOptions()
	opts.Namespaces = []string{s.NS, other.NS}
	s.StartBridgeWith(opts, withAWS(s))
	for _, sc := range []*harness.Scenario{s, other} {
		sc.WaitEventSaying(events.ReasonRefreshDisabled, "db", "ClusterExternalSecret "+ces.Name)
	}
	before := generation(s, ces)
	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, remote, "v2"); err != nil {
		t.Fatal(err)
	}
	letPollerLook()
	if got := generation(s, ces) - before; got != 0 {
		t.Errorf("the ClusterExternalSecret was written %d times, want 0", got)
	}
}
