package bench_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// unlimited lifts the restart rate limits, which the benchmarks do not
// measure.
var unlimited = []string{
	"--rollouts-per-second", "10000", "--rollout-burst", "10000",
	"--namespace-rollouts-per-second", "10000", "--namespace-rollout-burst", "10000",
}

// BenchmarkScale: 5,000 ESO-managed Secrets, their ExternalSecrets and 5,000
// Deployments that each read one. The controller runs as its own process
// with --settle 0, so the latency is eso-bridge's own (the settle window, 2 s
// by default, adds to it by design). Each rotation is an ESO-like write of a
// Secret and its status; write→patch runs from the start of that write to
// the patched pod template as a watch sees it, status→patch from the moment
// the API server accepted the status that confirms the sync (eso-bridge's
// gate waits for it). Rotations run one at a time.
func BenchmarkScale(b *testing.B) {
	n, rotations := size(5000, 40), size(400, 10)
	ns := harness.Namespace(b)
	f := newFleet(b, ns, n, 1024, true)
	restarts := watchRestarts(b, ns)

	started := time.Now()
	controller := startController(b, nil, append([]string{"--namespaces", ns, "--settle", "0s", "--aws-poll-interval", "0"}, unlimited...)...)
	waitAdopted(b, f)
	report(b, "start to all adopted", time.Since(started).Seconds(), "s")
	time.Sleep(2 * time.Second)
	idle := controller.stats(b)
	report(b, "RSS idle", idle.RSSBytes/(1<<20), "MiB")
	report(b, "heap in use idle", controller.sum(b, "go_memstats_heap_inuse_bytes")/(1<<20), "MiB")

	requests := controller.sum(b, "rest_client_requests_total")
	var fromWrite, fromSynced []time.Duration
	ctx := context.Background()
	for r := range rotations {
		i := (r * 7919) % n // spread over the fleet
		next := restarts.next(fleetName(i))
		written := time.Now()
		if err := f.rotate(ctx, i); err != nil {
			b.Fatal(err)
		}
		synced := time.Now()
		patched := await(b, next, "the restart of "+fleetName(i), time.Minute)
		fromWrite, fromSynced = append(fromWrite, patched.Sub(written)), append(fromSynced, patched.Sub(synced))
	}
	time.Sleep(2 * time.Second) // the Events and rollout checks that follow a patch
	busy := controller.stats(b)
	reportLatencies(b, "write→patch", fromWrite)
	reportLatencies(b, "status→patch", fromSynced)
	report(b, "API requests per rotation", (controller.sum(b, "rest_client_requests_total")-requests)/float64(rotations), "req")
	report(b, "CPU per rotation", float64(busy.CPU-idle.CPU)/float64(time.Millisecond)/float64(rotations), "ms")
	report(b, "RSS after rotations", busy.RSSBytes/(1<<20), "MiB")
	report(b, "restarts", controller.sum(b, "eso_bridge_restarts_total", "result", "success"), "n")
	report(b, "patch conflicts retried", controller.sum(b, "eso_bridge_restarts_total", "result", "conflict"), "n")
}

// waitAdopted waits until eso-bridge has recorded a source hash on every
// Deployment of the fleet.
func waitAdopted(b *testing.B, f *fleet) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	last := -1
	for {
		// Metadata only: a full list of 5,000 Deployments a second would load
		// the API server the controller is measured against.
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("DeploymentList"))
		if err := f.c.List(context.Background(), list, client.InNamespace(f.namespace)); err != nil {
			b.Fatal(err)
		}
		adopted := 0
		for _, d := range list.Items {
			if d.Annotations[annotations.AnnotationSourceHash] != "" {
				adopted++
			}
		}
		if adopted == f.n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d Deployments adopted after 10 minutes", adopted, f.n)
		}
		if adopted != last && f.n >= 1000 {
			fmt.Fprintf(os.Stderr, "bench: %s of %d Deployments adopted\n", strconv.Itoa(adopted), f.n)
		}
		last = adopted
		time.Sleep(2 * time.Second)
	}
}
