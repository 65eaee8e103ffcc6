// Package esocompat runs the core rotation against the oldest ESO release
// eso-bridge supports (toolchain.ExternalSecretsOldestV1, the first to serve
// external-secrets.io/v1), on a control plane of its own; every other test
// runs against toolchain.ExternalSecretsVersion.
package esocompat_test

import (
	"testing"
	"time"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
	"github.com/eso-bridge/eso-bridge/integration/toolchain"
)

func TestMain(m *testing.M) {
	harness.MainWith(m, controlplane.Options{ExternalSecrets: toolchain.ExternalSecretsOldestV1})
}

// With the oldest supported ESO: a vault rotation is triggered, ESO writes
// it, and each consumer of every kind restarts exactly once; a workload
// that does not use the Secret is left alone.
func TestARotationRestartsEachConsumerOnceWithTheOldestESO(t *testing.T) {
	if got := harness.ControlPlane(t).Binaries.ExternalSecretsVersion; got != toolchain.ExternalSecretsOldestV1 {
		t.Fatalf("the control plane runs ESO %s, want %s", got, toolchain.ExternalSecretsOldestV1)
	}
	s := harness.NewScenario(t)
	rollout := map[string]string{annotations.AnnotationRollout: "auto"}
	es := s.ExternalSecret("db", "v1", rollout)
	s.ExternalSecret("other", "v1", rollout)
	deployment := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	statefulset := s.Workload(harness.WorkloadKinds[1], "worker", nil, "db")
	daemonset := s.Workload(harness.WorkloadKinds[2], "agent", nil, "db")
	bystander := s.Workload(harness.WorkloadKinds[0], "bystander", nil, "other")
	s.StartBridgeWith(harness.TestOptions(), bridge.ManagerOptions{MetricsAddr: "0", HealthAddr: "0", Vault: s.LocalAWS(time.Second)})
	s.WaitAdopted(deployment)
	s.WaitAdopted(statefulset)
	s.WaitAdopted(daemonset)
	s.WaitAdopted(bystander)
	time.Sleep(2 * time.Second) // the AWS provider's first sweep adopts the current versions

	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "v2"); err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(deployment, 1)
	s.ExpectRestarts(statefulset, 1)
	s.ExpectRestarts(daemonset, 1)
	if got := s.Restarts(bystander); got != 0 {
		t.Errorf("a workload not using the rotated Secret was restarted %d time(s)", got)
	}
	if s.Get(es).GetAnnotations()[annotations.AnnotationVaultVersions] == "" {
		t.Error("the ExternalSecret was not triggered: the rotation reached ESO some other way")
	}
	if got := s.SecretData("db", "value"); got != "v2" {
		t.Errorf("ESO wrote %q, want the rotated v2", got)
	}
}
