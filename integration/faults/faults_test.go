// Package faults_test breaks the components eso-bridge depends on — AWS,
// ESO, the API server — in the middle of a rotation, and checks that nothing
// restarts early, nothing is missed, and nothing restarts twice. Its tests
// kill shared components, so they have a control plane of their own and run
// one at a time.
package faults_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
	"github.com/eso-bridge/eso-bridge/integration/localsm"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

func TestMain(m *testing.M) {
	harness.MainWith(m, controlplane.Options{SecretsManager: controlplane.InProcess})
}

// pollInterval is short so that tests wait seconds, not the 30s default.
const pollInterval = time.Second

// rotationReady creates an ExternalSecret "db" (rollout: auto), a Deployment
// using it, and eso-bridge with the AWS provider, and waits until the
// provider has adopted the current version.
func rotationReady(t *testing.T, aws func(*awsprovider.Options)) (*harness.Scenario, *esv1.ExternalSecret, client.Object) {
	s := harness.NewScenario(t)
	es := s.ExternalSecret("db", "v1", map[string]string{annotations.AnnotationRollout: "auto"})
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	options := s.LocalAWSOptions(pollInterval)
	if aws != nil {
		aws(&options)
	}
	s.StartBridgeWith(harness.TestOptions(), bridge.ManagerOptions{MetricsAddr: "0", HealthAddr: "0", Vault: awsprovider.New(options)})
	s.WaitAdopted(api)
	time.Sleep(3 * pollInterval) // the provider adopts the versions it sees first
	return s, es, api
}

// put rotates the AWS secret of "db" and returns the new version.
func put(s *harness.Scenario, value string) string {
	s.T.Helper()
	version, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), value)
	if err != nil {
		s.T.Fatal(err)
	}
	return version
}

// waitTriggered waits until eso-bridge has asked ESO for version.
func waitTriggered(s *harness.Scenario, es *esv1.ExternalSecret, version string) {
	s.T.Helper()
	s.WaitFor("the trigger of "+version, func() (bool, string) {
		got := s.Get(es).GetAnnotations()[annotations.AnnotationVaultVersions]
		return strings.Contains(got, version), "vault-versions: " + got
	})
}

var listErrors = map[string]string{"operation": "ListSecrets", "result": "error"}

// ListSecrets calls that are accepted and never answered time out (counted as
// errors, backed off); a rotation made meanwhile restarts nothing until AWS
// answers again, then exactly once.
func TestAWSCallsThatNeverAnswerTimeOutAndNothingIsMissed(t *testing.T) {
	s, _, api := rotationReady(t, func(o *awsprovider.Options) { o.CallTimeout = time.Second })
	before := harness.Counter(t, "eso_bridge_aws_calls_total", listErrors)
	s.CP.LocalSecretsManager.Hang("ListSecrets")
	t.Cleanup(s.CP.LocalSecretsManager.ClearFaults)
	s.WaitFor("two ListSecrets calls to time out", func() (bool, string) {
		n := harness.Counter(t, "eso_bridge_aws_calls_total", listErrors) - before
		return n >= 2, fmt.Sprintf("%v timed-out calls so far", n)
	})
	put(s, "v2")
	s.ExpectNoMoreRestartsThan(api, 0)

	s.CP.LocalSecretsManager.ClearFaults()
	s.ExpectRestarts(api, 1)
}

// A long outage — every ListSecrets failing with 503 for a while — ends with
// the rotation made during it applied once.
func TestLongAWSOutageEndsWithTheRotationAppliedOnce(t *testing.T) {
	s, es, api := rotationReady(t, nil)
	before := harness.Counter(t, "eso_bridge_aws_calls_total", listErrors)
	s.CP.LocalSecretsManager.FailNext("ListSecrets", 6, localsm.Unavailable)
	version := put(s, "v2")
	s.ExpectRestarts(api, 1)
	waitTriggered(s, es, version)
	if errs := harness.Counter(t, "eso_bridge_aws_calls_total", listErrors) - before; errs < 6 {
		t.Errorf("eso_bridge_aws_calls_total{ListSecrets,error} is %v, want the 6 injected failures counted", errs)
	}
}

// ESO killed while a rotation is on its way: eso-bridge triggers the
// ExternalSecret, nothing restarts while ESO is down, and once ESO is back
// and has written the new value the workload restarts exactly once.
func TestESOKilledMidRotationRestartsOnceAfterItReturns(t *testing.T) {
	s, es, api := rotationReady(t, nil)
	if err := s.CP.KillComponent(controlplane.ComponentExternalSecrets); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = s.CP.StartComponent(s.Ctx, controlplane.ComponentExternalSecrets)
		}
	})
	waitTriggered(s, es, put(s, "v2"))
	s.ExpectNoMoreRestartsThan(api, 0)

	if err := s.CP.StartComponent(s.Ctx, controlplane.ComponentExternalSecrets); err != nil {
		t.Fatal(err)
	}
	restarted = true
	s.ExpectRestarts(api, 1)
	s.WaitEvent(events.ReasonRolloutComplete, "api")
}

// The API server restarted between eso-bridge's trigger and the restart:
// eso-bridge, ESO and the controllers reconnect, and the rotation finishes
// with exactly one restart, its rollout reported.
func TestAPIServerRestartedMidRotationTheRotationFinishes(t *testing.T) {
	s, es, api := rotationReady(t, nil)
	waitTriggered(s, es, put(s, "v2"))
	if err := s.CP.KillComponent(controlplane.ComponentAPIServer); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := s.CP.StartComponent(s.Ctx, controlplane.ComponentAPIServer); err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1)
	s.WaitEvent(events.ReasonRolloutComplete, "api")
}

// A Secret write that ESO's status never confirmed restarts nothing, even
// with no settle window and a status written in the same second: the API
// server's whole seconds cannot tell that status from one that came after
// the write. ESO is killed right after a sync, and the Secret's data-hash is
// then written as a half-finished sync would leave it.
func TestAStatusFromTheSecondOfAWriteDoesNotConfirmIt(t *testing.T) {
	s := harness.NewScenario(t)
	es := s.ExternalSecret("db", "v1", map[string]string{annotations.AnnotationRollout: "auto"})
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	opts := harness.TestOptions()
	opts.Settle = 0
	s.StartBridge(opts)
	s.WaitAdopted(api)

	component := controlplane.ComponentExternalSecrets
	t.Cleanup(func() { _ = s.CP.StartComponent(s.Ctx, component) })
	for attempt := 1; ; attempt++ {
		s.Refresh("db")
		if err := s.CP.KillComponent(component); err != nil {
			t.Fatal(err)
		}
		secret := &corev1.Secret{}
		if err := s.Client.Get(s.Ctx, client.ObjectKey{Namespace: s.NS, Name: "db"}, secret); err != nil {
			t.Fatal(err)
		}
		secret.Annotations[eso.DataHashAnnotation] = fmt.Sprintf("unconfirmed-%d", attempt)
		if err := s.Client.Update(s.Ctx, secret); err != nil {
			t.Fatal(err)
		}
		synced := s.Get(es).(*esv1.ExternalSecret)
		if time.Now().Truncate(time.Second).Equal(synced.Status.RefreshTime.Time) {
			break // the write landed in the second of ESO's status
		}
		if attempt == 5 {
			t.Fatal("could not write the Secret within the second of ESO's sync in 5 attempts")
		}
		if err := s.CP.StartComponent(s.Ctx, component); err != nil {
			t.Fatal(err)
		}
	}
	s.ExpectNoMoreRestartsThan(api, 0)
	// Back, ESO finds the Secret's digest wrong and writes it again as it
	// was: the data never changed, and nothing restarts.
	if err := s.CP.StartComponent(s.Ctx, component); err != nil {
		t.Fatal(err)
	}
	s.ExpectNoMoreRestartsThan(api, 0)
}

// /readyz says ready only once eso-bridge can decide: while AWS's
// ListSecrets hangs, the vault has not been swept, and a replica handed the
// work now would take a rotation made meanwhile for its starting point.
func TestNotReadyUntilTheVaultHasBeenSwept(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", map[string]string{annotations.AnnotationRollout: "auto"})
	s.CP.LocalSecretsManager.Hang("ListSecrets")
	t.Cleanup(s.CP.LocalSecretsManager.ClearFaults)
	health, err := controlplane.FreeLoopbackAddress()
	if err != nil {
		t.Fatal(err)
	}
	s.StartBridgeWith(harness.TestOptions(), bridge.ManagerOptions{MetricsAddr: "0", HealthAddr: health, Vault: s.LocalAWS(pollInterval)})
	probe := func(path string) (int, string) {
		resp, err := http.Get("http://" + health + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body))
	}
	s.WaitFor("/healthz to answer", func() (bool, string) {
		code, body := probe("/healthz")
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if code, body := probe("/readyz"); code == http.StatusOK {
			t.Fatalf("/readyz says ready while the first sweep of AWS hangs: %s", body)
		}
	}
	s.CP.LocalSecretsManager.ClearFaults()
	s.WaitFor("/readyz to say ready once the sweep has finished", func() (bool, string) {
		code, body := probe("/readyz")
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
}
