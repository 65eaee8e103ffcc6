package faults_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// The lines the controller logs when it gives back the memory of a start,
// and of a new leader's first pass over every object.
const (
	startGivenBack    = "the start's work is done: its memory returned to the system"
	takeoverGivenBack = "a new leader's first pass is done: its memory returned to the system"
	takeoverLeaseName = "eso-bridge-takeover"
)

// A standby that takes over from a leader that stopped goes through every
// object once, as a leader's start does, and gives that pass's memory back
// once its queues are empty — the log says so, as it says it of the start —
// then restarts what rotates, once.
func TestAStandbyThatTakesOverGivesBackItsFirstPass(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", map[string]string{annotations.AnnotationRollout: "auto"})
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	replica := func() func() {
		return s.StartBridgeWith(harness.TestOptions(), bridge.ManagerOptions{
			MetricsAddr: "0", HealthAddr: "0", Vault: s.LocalAWS(pollInterval),
			LeaderElection: true, LeaderElectionID: takeoverLeaseName, LeaderElectionNamespace: s.NS,
		})
	}
	// The log is the package's, shared by every in-process controller it
	// ran (the first of them makes it).
	logged := func(line string) int { return strings.Count(harness.BridgeLog(t, s), line) }
	waitLogged := func(what, line string, want int) {
		s.WaitFor(what, func() (bool, string) {
			got := logged(line)
			return got >= want, fmt.Sprintf("%d such line(s), want %d", got, want)
		})
	}
	stopLeader := replica()
	// Counted as it starts: a start is given back two looks a second apart
	// after its caches have synced, not before.
	starts := logged(startGivenBack)
	s.WaitAdopted(api) // only a leader adopts
	waitLogged("the leader's start to be given back", startGivenBack, starts+1)
	replica()
	waitLogged("the standby's start (its caches' fill) to be given back", startGivenBack, starts+2)
	// Counted from here: a standby that took itself for a new leader before
	// it led would have logged it already, and none would follow.
	takeovers := logged(takeoverGivenBack)
	stopLeader() // releases the Lease: the standby takes it at once
	waitLogged("the new leader's first pass to be given back", takeoverGivenBack, takeovers+1)

	time.Sleep(3 * pollInterval) // the new leader's provider adopts the versions it sees first
	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "v2"); err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1)
	s.ExpectNoMoreRestartsThan(api, 1)
}
