package integration_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// Two installations with their own namespace selectors and Leases — shards
// of one cluster — each hold their own namespaces; a namespace relabelled
// from one shard to the other is taken over (the caches are rebuilt on the
// new set), and every rotation restarts each workload once across both.
func TestShardsSplitTheNamespacesAndRestartEachWorkloadOnce(t *testing.T) {
	a, b := harness.NewScenario(t), harness.NewScenario(t)
	workloads := map[*harness.Scenario]client.Object{}
	for _, s := range []*harness.Scenario{a, b} {
		s.ExternalSecret("db", "v1", rolloutAuto)
		workloads[s] = s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	}
	shardOf := func(name string) string { return t.Name() + "-" + name }
	label(a, shardLabel, shardOf("a"))
	label(b, shardLabel, shardOf("b"))
	// Shards installed side by side share the digest key (its Secret in
	// their namespace), so that a workload moved between them keeps its
	// record.
	key := types.NamespacedName{Namespace: a.NS, Name: bridge.DefaultDigestKeySecret}
	for _, name := range []string{"a", "b"} {
		opts := harness.TestOptions()
		opts.NamespaceSelector = shardLabel + "=" + shardOf(name)
		a.StartBridgeWith(opts, bridge.ManagerOptions{MetricsAddr: "0", HealthAddr: "0", DigestKeySecret: key,
			LeaderElection: true, LeaderElectionID: "eso-bridge-" + name, LeaderElectionNamespace: a.NS})
	}
	for s, w := range workloads {
		s.WaitAdopted(w)
		s.Rotate("db")
	}
	for s, w := range workloads {
		s.ExpectRestarts(w, 1)
	}

	// b's namespace moves to shard a, and is rotated at once.
	label(b, shardLabel, shardOf("a"))
	b.Rotate("db")
	b.ExpectRestarts(workloads[b], 2)
	a.WaitFor("shard a caching both namespaces", func() (bool, string) {
		log := harness.BridgeLog(t, a)
		return strings.Contains(log, `"selector": "`+shardLabel+"="+shardOf("a")+`", "namespaces": ["`+min(a.NS, b.NS)+`", "`+max(a.NS, b.NS)+`"]`), "not in the log"
	})
	a.Rotate("db")
	a.ExpectRestarts(workloads[a], 2)
}

// shardLabel assigns namespaces to the shards of a test.
const shardLabel = "test.eso-bridge.io/shard"
