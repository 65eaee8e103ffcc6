package bench_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// shardLabel assigns the benchmark's namespaces to shards.
const shardLabel = "bench.eso-bridge.io/shard"

// shardSweep is the AWS sweep interval of the shard benchmark.
const shardSweep = 5 * time.Second

// BenchmarkShards: n ExternalSecrets, their Secrets and Deployments, half in
// each of two namespaces, with the AWS provider on (moto, a sweep every
// 5 s). One installation selecting both namespaces is measured, then two
// shards that each select one, with a Lease of their own: the resident
// memory (and its anonymous part), heap in use and AWS calls per sweep of
// each. Then vault rotations in both namespaces: each must be triggered
// once and restart its workload once across the shards (the benchmark
// writes the Secret and status as ESO would when it sees the trigger; the
// real ESO ignores the fleets).
func BenchmarkShards(b *testing.B) {
	n, rotations := size(2000, 20), size(10, 2)
	cp := harness.ControlPlane(b)
	var fleets []*fleet
	for _, shard := range []string{"a", "b"} {
		ns := harness.Namespace(b)
		labelNamespace(b, ns, shardLabel, shard)
		f := &fleet{c: cp.Client, namespace: ns, n: n / 2}
		// The vault's secrets come first: made after ESO's status, they
		// would be taken for versions ESO has yet to fetch. One at a time:
		// moto answers concurrent creates with 500s.
		for i := range f.n {
			if _, err := cp.SecretsManager.CreateSecret(context.Background(), f.remoteKey(i), "v1"); err != nil {
				b.Fatalf("creating the vault's secrets: %v", err)
			}
		}
		harness.WaitPastTheSecond()
		fleets = append(fleets, newFleet(b, ns, n/2, 1024, true))
	}
	var env []string
	for name, value := range cp.AWSEnv() {
		env = append(env, name+"="+value)
	}
	exe := releaseBinary(b)
	run := func(selector, lease string) *child {
		args := append([]string{"--namespace-selector", selector, "--settle", "0s", "--aws-poll-interval", shardSweep.String(),
			"--leader-elect", "--leader-election-id", lease, "--leader-election-namespace", fleets[0].namespace}, unlimited...)
		return startController(b, exe, env, args...)
	}

	one := run(shardLabel+" in (a,b)", "bench-one")
	for _, f := range fleets {
		waitAdopted(b, f)
	}
	one.waitLog(b, startDone, time.Minute)
	report(b, "one installation RSS", medianRSS(b, one)/(1<<20), "MiB")
	report(b, "one installation anonymous RSS", one.anonymousRSS(b)/(1<<20), "MiB")
	report(b, "one installation heap in use", one.sum(b, "go_memstats_heap_inuse_bytes")/(1<<20), "MiB")
	report(b, "one installation AWS calls per sweep", awsCallsPerSweep(b, one), "calls")
	one.stop()

	shards := []*child{run(shardLabel+"=a", "bench-shard-a"), run(shardLabel+"=b", "bench-shard-b")}
	time.Sleep(2 * shardSweep) // both started and swept
	for i, c := range shards {
		name := string(rune('a' + i))
		c.waitLog(b, startDone, time.Minute)
		report(b, "shard "+name+" RSS", medianRSS(b, c)/(1<<20), "MiB")
		// The heap is what the members cost; the resident set adds the
		// binary's pages, which every installation pays in full, and the
		// anonymous part of it the process's own base (stacks, the
		// libraries' state).
		report(b, "shard "+name+" anonymous RSS", c.anonymousRSS(b)/(1<<20), "MiB")
		report(b, "shard "+name+" heap in use", c.sum(b, "go_memstats_heap_inuse_bytes")/(1<<20), "MiB")
		report(b, "shard "+name+" AWS calls per sweep", awsCallsPerSweep(b, c), "calls")
	}

	// Vault rotations in both namespaces, answered as ESO would.
	var g errgroup.Group
	for _, f := range fleets {
		for r := range rotations {
			i := (r * 7919) % f.n
			g.Go(func() error { return rotateThroughVault(b, f, i) })
		}
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	time.Sleep(2 * shardSweep) // a second trigger or restart would come by now
	var triggers, restarts float64
	for _, c := range shards {
		triggers += c.sum(b, "eso_bridge_trigger_to_sync_seconds")
		restarts += c.sum(b, "eso_bridge_restarts_total", "result", "success")
	}
	report(b, "vault rotations", float64(2*rotations), "n")
	report(b, "triggers across shards", triggers, "n")
	report(b, "restarts across shards", restarts, "n")
}

// awsCallsPerSweep counts the controller's AWS calls over four sweeps.
func awsCallsPerSweep(b *testing.B, c *child) float64 {
	b.Helper()
	before := c.sum(b, "eso_bridge_aws_calls_total")
	time.Sleep(4 * shardSweep)
	return (c.sum(b, "eso_bridge_aws_calls_total") - before) / 4
}

// rotateThroughVault puts a new value of member i's secret in the vault,
// waits for eso-bridge's trigger on its ExternalSecret, then writes the
// Secret and status as ESO does after the refresh the trigger asks for.
func rotateThroughVault(b *testing.B, f *fleet, i int) error {
	ctx := context.Background()
	version, err := harness.ControlPlane(b).SecretsManager.PutValue(ctx, f.remoteKey(i), fmt.Sprintf("v-%d", time.Now().UnixNano()))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		es := &esv1.ExternalSecret{}
		if err := f.c.Get(ctx, client.ObjectKey{Namespace: f.namespace, Name: fleetName(i)}, es); err != nil {
			return err
		}
		if versions := es.Annotations[annotations.AnnotationVaultVersions]; versions == f.remoteKey(i)+"="+version {
			f.externalSecrets[i] = es // what ESO reconciles: the object the trigger changed
			return f.rotate(ctx, i)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ExternalSecret %s/%s not triggered for version %s within a minute", f.namespace, fleetName(i), version)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// labelNamespace sets a label on a namespace.
func labelNamespace(b *testing.B, name, key, value string) {
	b.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, key, value)
	if err := harness.ControlPlane(b).Client.Patch(context.Background(), ns, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		b.Fatalf("labelling namespace %s: %v", name, err)
	}
}
