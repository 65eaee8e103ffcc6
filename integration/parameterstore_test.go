package integration_test

import (
	"slices"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// parameterConsumer creates a Parameter Store SecretStore beside the
// scenario's own, the parameter /<namespace>/<name> holding "p1", an
// ExternalSecret name reading it, synced by ESO, and a workload using it;
// it returns the parameter's name and the workload.
func parameterConsumer(s *harness.Scenario, name string) (string, client.Object) {
	s.T.Helper()
	ssmStore := parameterStore(s)
	parameter := "/" + s.NS + "/" + name
	if _, err := controlplane.NewParameterStore(s.CP.SecretsManagerURL).Put(s.Ctx, parameter, "p1"); err != nil {
		s.T.Fatal(err)
	}
	harness.WaitPastTheSecond()
	es := controlplane.ExternalSecret(s.NS, name, parameter, "value", time.Hour)
	es.Annotations = map[string]string{annotations.AnnotationRollout: "auto"}
	es.Spec.SecretStoreRef.Name = ssmStore.Name
	if err := s.Client.Create(s.Ctx, es); err != nil {
		s.T.Fatal(err)
	}
	if _, err := controlplane.WaitForSync(s.Ctx, s.Client, client.ObjectKeyFromObject(es)); err != nil {
		s.T.Fatal(err)
	}
	if got := s.SecretData(name, "value"); got != "p1" {
		s.T.Fatalf("ESO synced %q from Parameter Store, want p1", got)
	}
	return parameter, s.Workload(harness.WorkloadKinds[0], name+"-api", nil, name)
}

// parameterStore creates the SecretStore "aws-ssm": the scenario's own, for
// Parameter Store.
func parameterStore(s *harness.Scenario) *esv1.SecretStore {
	s.T.Helper()
	return s.SecretStoreLike("aws-ssm", func(p *esv1.AWSProvider) { p.Service = esv1.AWSServiceParameterStore })
}

// A dataFrom.find on Parameter Store (by name, under a path) is followed
// like named parameters: a new version of one it found restarts the
// consumer once.
func TestAParameterStoreFindIsFollowed(t *testing.T) {
	s := harness.NewScenario(t)
	store := parameterStore(s)
	parameters := controlplane.NewParameterStore(s.CP.SecretsManagerURL)
	path := "/" + s.NS + "/app"
	for _, name := range []string{"a", "b"} {
		if _, err := parameters.Put(s.Ctx, path+"/"+name, name+"1"); err != nil {
			t.Fatal(err)
		}
	}
	harness.WaitPastTheSecond()
	es := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: s.NS, Name: "found", Annotations: map[string]string{annotations.AnnotationRollout: "auto"}},
		Spec: esv1.ExternalSecretSpec{
			SecretStoreRef: esv1.SecretStoreRef{Kind: esv1.SecretStoreKind, Name: store.Name}, RefreshInterval: &metav1.Duration{Duration: time.Hour},
			Target:   esv1.ExternalSecretTarget{Name: "found"},
			DataFrom: []esv1.ExternalSecretDataFromRemoteRef{{Find: &esv1.ExternalSecretFind{Path: &path, Name: &esv1.FindName{RegExp: ".*"}}}},
		}}
	if err := s.Client.Create(s.Ctx, es); err != nil {
		t.Fatal(err)
	}
	if _, err := controlplane.WaitForSync(s.Ctx, s.Client, client.ObjectKeyFromObject(es)); err != nil {
		t.Fatal(err)
	}
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "found")
	s.StartBridgeWith(harness.TestOptions(), bridge.ManagerOptions{MetricsAddr: "0", HealthAddr: "0", Vault: s.LocalAWS(time.Second)})
	s.WaitAdopted(api)
	time.Sleep(3 * time.Second) // the first sweeps see the current versions
	if _, err := parameters.Put(s.Ctx, path+"/b", "b2"); err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1)
	var secret corev1.Secret
	if err := s.Client.Get(s.Ctx, client.ObjectKey{Namespace: s.NS, Name: "found"}, &secret); err != nil {
		t.Fatal(err)
	}
	values := []string{}
	for _, v := range secret.Data {
		values = append(values, string(v))
	}
	if !slices.Contains(values, "b2") || !slices.Contains(values, "a1") {
		t.Errorf("the Secret holds %q, want a1 and b2", values)
	}
	s.ExpectNoMoreRestartsThan(api, 1)
}

// Each new version of a Parameter Store parameter restarts its consumer
// once, after ESO wrote it, found by the sweep (DescribeParameters: versions,
// never values).
func TestParameterStoreRotationsRestartOnceEach(t *testing.T) {
	s := harness.NewScenario(t)
	parameter, api := parameterConsumer(s, "param")
	s.StartBridgeWith(harness.TestOptions(), bridge.ManagerOptions{MetricsAddr: "0", HealthAddr: "0", Vault: s.LocalAWS(time.Second)})
	s.WaitAdopted(api)
	time.Sleep(3 * time.Second) // the first sweeps see the current version
	parameters := controlplane.NewParameterStore(s.CP.SecretsManagerURL)
	for i, value := range []string{"p2", "p3"} {
		if _, err := parameters.Put(s.Ctx, parameter, value); err != nil {
			t.Fatal(err)
		}
		s.ExpectRestarts(api, int64(i+1))
		if got := s.SecretData("param", "value"); got != value {
			t.Errorf("the Secret holds %q, want %s", got, value)
		}
	}
	s.ExpectNoMoreRestartsThan(api, 2)
	if got := harness.Counter(t, "eso_bridge_aws_calls_total", map[string]string{"operation": "GetParameter"}); got != 0 {
		t.Errorf("%v GetParameter calls: eso-bridge must never read a value", got)
	}
}

// Parameter Store's own change event, through the example rule, rotates the
// parameter's readers with the sweep an hour away.
func TestAParameterStoreChangeEventRotatesItsReaders(t *testing.T) {
	bed := newEventsBed(t, time.Hour)
	described := harness.Counter(t, "eso_bridge_aws_calls_total", map[string]string{"operation": "DescribeParameters"})
	parameter, api := parameterConsumer(bed.Scenario, "param")
	bed.WaitAdopted(api)
	bed.WaitFor("eso-bridge to see the parameter's version", func() (bool, string) {
		return harness.Counter(t, "eso_bridge_aws_calls_total", map[string]string{"operation": "DescribeParameters"}) > described, "no DescribeParameters yet"
	})
	if _, err := controlplane.NewParameterStore(bed.CP.SecretsManagerURL).Put(bed.Ctx, parameter, "p2"); err != nil {
		t.Fatal(err)
	}
	bed.queue.PublishFrom("aws.ssm", "Parameter Store Change", map[string]string{"operation": "Update", "name": parameter, "type": "SecureString"})
	bed.ExpectRestarts(api, 1)
	if got := bed.SecretData("param", "value"); got != "p2" {
		t.Errorf("the Secret holds %q, want p2", got)
	}
	bed.ExpectNoMoreRestartsThan(bed.api, 0)
}
