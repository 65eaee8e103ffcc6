package inprocess_test

import (
	"context"
	"strings"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// pollInterval is short so that tests wait seconds, not the 30s default.
const pollInterval = time.Second

var rolloutAuto = map[string]string{bridge.AnnotationRollout: "auto"}

// withAWS runs eso-bridge with the AWS provider pointed at the in-process endpoint.
func withAWS(s *harness.Scenario) bridge.ManagerOptions {
	url := s.CP.SecretsManagerURL
	return bridge.ManagerOptions{MetricsAddr: "0", HealthAddr: "0", AWS: &bridge.AWSOptions{
		PollInterval: pollInterval,
		Clients: func(context.Context, awsprovider.Store) (awsprovider.API, error) {
			return controlplane.NewSecretsManager(url).Client, nil
		},
	}}
}

// letPollerLook gives the poller a few cycles to see the current versions,
// which it adopts without triggering anything.
func letPollerLook() { time.Sleep(3 * pollInterval) }

// A new value put in AWS reaches the Secret and rolls the consumer once, with
// a refreshInterval of an hour: only eso-bridge's trigger can have done it.
func TestVaultRotationReachesPodsWithoutWaitingForRefreshInterval(t *testing.T) {
	s := harness.NewScenario(t)
	es := s.ExternalSecret("db", "v1", rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	s.StartBridgeWith(harness.TestOptions(), withAWS(s))
	s.WaitAdopted(api)
	letPollerLook()
	if got := annotation(s, es, bridge.AnnotationVaultVersions); got != "" {
		t.Errorf("eso-bridge triggered an ExternalSecret whose version had not moved (%s)", got)
	}

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
	if got := annotation(s, es, bridge.AnnotationVaultVersions); !strings.Contains(got, version) {
		t.Errorf("the ExternalSecret's %s is %q, want the new version %s", bridge.AnnotationVaultVersions, got, version)
	}
	s.ExpectRestarts(api, 1)
}

// A rotation Lambda's pending version triggers nothing; its promotion
// triggers exactly one rollout.
func TestPendingVersionWaitsForPromotion(t *testing.T) {
	s := harness.NewScenario(t)
	es := s.ExternalSecret("db", "v1", rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	s.StartBridgeWith(harness.TestOptions(), withAWS(s))
	s.WaitAdopted(api)
	letPollerLook()

	pending, err := s.CP.SecretsManager.PutPending(s.Ctx, s.RemoteKey("db"), "v2")
	if err != nil {
		t.Fatal(err)
	}
	letPollerLook()
	if got := annotation(s, es, bridge.AnnotationVaultVersions); got != "" {
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
	if got := annotation(s, es, bridge.AnnotationVaultVersions); got != "" {
		t.Errorf("a pinned ExternalSecret was triggered (%s)", got)
	}
	s.ExpectNoMoreRestartsThan(api, 0)
}

func annotation(s *harness.Scenario, es *esv1.ExternalSecret, key string) string {
	return s.Get(es).GetAnnotations()[key]
}

func secretValue(s *harness.Scenario, name string) string {
	var secret corev1.Secret
	if err := s.Client.Get(s.Ctx, client.ObjectKey{Namespace: s.NS, Name: name}, &secret); err != nil {
		return err.Error()
	}
	return string(secret.Data["value"])
}
