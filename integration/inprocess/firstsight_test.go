package inprocess_test

import (
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// A workload created while eso-bridge was down, whose Secret ESO rewrote
// after its pods started, is restarted once when eso-bridge comes back: its
// pods hold the old value. Installing eso-bridge restarts nothing, however
// old the pods are next to their Secrets' last sync.
func TestAWorkloadCreatedWhileDownWithOlderPodsIsRestartedOnce(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", rolloutAuto)
	before := s.Workload(harness.WorkloadKinds[0], "before", nil, "db")
	rotateAfterPodsStarted(s, before)

	// The first start installs eso-bridge: what ESO wrote before is no reason
	// to restart.
	stop := s.StartBridge(harness.TestOptions())
	s.WaitAdopted(before)
	s.ExpectNoMoreRestartsThan(before, 0)
	stop()

	during := s.Workload(harness.WorkloadKinds[0], "during", nil, "db")
	rotateAfterPodsStarted(s, during)
	s.StartBridge(harness.TestOptions())
	s.ExpectRestarts(during, 1)
	// Recorded before the rotation, it restarts for it as any workload does.
	s.ExpectRestarts(before, 1)
}

// rotateAfterPodsStarted waits until w's pods run, then, a second later (the
// API server records times to the second), has ESO write a new value.
func rotateAfterPodsStarted(s *harness.Scenario, w client.Object) {
	s.T.Helper()
	if err := controlplane.WaitForRollout(s.Ctx, s.Client, w); err != nil {
		s.T.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	harness.WaitPastTheSecond()
	s.Rotate("db")
}
