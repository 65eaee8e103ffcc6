package bench_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// rotationSpacing is the pause between two rotations of BenchmarkScale: the
// pace of the default --rollouts-per-second (10), at which a cluster's
// restarts go however fast its rotations come. Back to back (about 40 a
// second here, the restart limits lifted) the controller's requests on
// Deployments — each restart's patch and each rollout's record — outrun
// client-go's token bucket of --kube-api-qps (50 a second, one per kind), and
// the patch waits its turn: at 2,000 members status→patch p99 was 23.4 ms
// back to back, 14.6 ms with the bucket lifted (p50 4.2 and 3.8 ms).
const rotationSpacing = 100 * time.Millisecond

// BenchmarkScale: 20,000 ESO-managed Secrets, their ExternalSecrets and
// 20,000 Deployments that each read one, with the AWS provider on (an
// in-process Secrets Manager endpoint holding the fleet's 20,000 secrets,
// swept at the default 30 s) and tracing on (to a local OTLP collector). The
// controller runs as its own process with --settle 0, so the latency is
// eso-bridge's own (the settle window, 2 s by default, adds to it by
// design). Each rotation is an ESO-like write of a Secret and its status;
// write→patch runs from the start of that write to the patched pod template
// as a watch sees it, status→patch from the moment the API server accepted
// the status that confirms the sync (eso-bridge's gate waits for it), and
// status→patch at the API server from that status write's answer to the
// arrival of the controller's patch, both by the API server's clock (its
// audit log): the controller's own reaction, without the bed's floor.
// Rotations run one at a time, rotationSpacing apart; each is one trace,
// closed when the Deployment's rollout is observed.
func BenchmarkScale(b *testing.B) {
	n, rotations := size(20000, 40), size(400, 10)
	// The default sweep interval; shorter at the small size, so that its
	// sweeps are seen in a short run.
	sweep := time.Duration(size(30, 5)) * time.Second
	ns := harness.Namespace(b)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = (&fleet{namespace: ns}).remoteKey(i)
	}
	vault := localAccountOf(b, keys)
	harness.WaitPastTheSecond() // the vault's versions come before ESO's status
	f := newFleet(b, ns, n, 1024, true)
	restarts := watchRestarts(b, ns)
	collector := harness.StartOTLPReceiver(b)

	env := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + collector.URL}
	for name, value := range harness.ControlPlane(b).AWSEnv() {
		if strings.HasPrefix(name, "AWS_ENDPOINT_URL_") {
			value = vault.url
		}
		env = append(env, name+"="+value)
	}
	// The release binary, as BenchmarkBesideReloader runs it; its resident
	// memory with nothing to watch is the base the fleet adds to.
	exe := releaseBinary(b)
	empty := launchController(b, exe, env, "--namespaces", harness.Namespace(b), "--settle", "0s")
	empty.waitLog(b, startDone, time.Minute)
	emptyAnonymous := empty.anonymousRSS(b)
	empty.stop()

	started := time.Now()
	pprof := freePort(b)
	controller := startController(b, exe, env, append([]string{"--namespaces", ns, "--settle", "0s",
		"--aws-poll-interval", sweep.String(), "--pprof-bind-address", pprof}, unlimited...)...)
	waitAdopted(b, f)
	report(b, "start to all adopted", time.Since(started).Seconds(), "s")
	// Idle is when the work the adoption set off (kube-controller-manager
	// syncing every Deployment, eso-bridge looking at each again) is done.
	waitQuiet(b, controller, 5*time.Minute)
	idle := controller.stats(b)
	report(b, "RSS idle", idle.RSSBytes/(1<<20), "MiB")
	report(b, "RSS idle per member", idle.RSSBytes/float64(n)/(1<<10), "KiB")
	// The start's burst: the caches' fill and the adoption.
	report(b, "peak RSS", idle.PeakRSSBytes/(1<<20), "MiB")
	anonymous := controller.anonymousRSS(b)
	report(b, "anonymous RSS idle", anonymous/(1<<20), "MiB")
	// What one ExternalSecret, its Secret and its Deployment add.
	report(b, "anonymous RSS per member", (anonymous-emptyAnonymous)/float64(n)/(1<<10), "KiB")
	report(b, "heap in use idle", controller.sum(b, "go_memstats_heap_inuse_bytes")/(1<<20), "MiB")
	saveHeapProfile(b, pprof, "scale")
	// The profile's collection leaves the heap holding what is live: the
	// floor under the resident set, without the collector's headroom.
	report(b, "heap live idle", controller.sum(b, "go_memstats_heap_alloc_bytes")/(1<<20), "MiB")
	report(b, "AWS calls per sweep", callsOfOneSweep(b, controller, 3*sweep), "calls")
	// Idle is not free: the AWS sweeps and the informers' resyncs cost CPU
	// whether anything rotates or not. Its rate, over two sweep intervals
	// in which nothing is asked of the controller (callsOfOneSweep's
	// scrapes of its metrics cost it CPU too), is what the rotations' CPU
	// is measured above.
	quietFrom, quietAt := controller.stats(b), time.Now()
	<-saveCPUProfile(b, pprof, "scale-idle", 2*sweep)
	before, rotating := controller.stats(b), time.Now()
	idleCPU := float64(before.CPU-quietFrom.CPU) / rotating.Sub(quietAt).Seconds()
	report(b, "CPU idle", idleCPU/float64(time.Millisecond), "ms/s")

	requests := controller.sum(b, "rest_client_requests_total")
	profiled := saveCPUProfile(b, pprof, "scale-rotations", time.Duration(size(60, 5))*time.Second)
	var fromWrite, fromSynced []time.Duration
	var audited []auditedChange
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
		audited = append(audited, auditedChange{name: fleetName(i), written: written})
		time.Sleep(rotationSpacing)
	}
	// Each trace closes when kube-controller-manager has observed its
	// Deployment's new template.
	traced := waitSpans(b, collector, rotations, 3*time.Minute)
	busy, done := controller.stats(b), time.Now()
	<-profiled
	reportLatencies(b, "write→patch", fromWrite)
	reportLatencies(b, "status→patch", fromSynced)
	reportLatencies(b, "status→patch at the API server", auditedReactions(b, f.namespace, audited))
	// The bed's floor at this size: a patch's round trip and its watch
	// delivery, which every status→patch figure contains.
	reportLatencies(b, "patch→watch (the bed's floor)", patchToWatch(b, f, size(100, 5)))
	report(b, "API requests per rotation", (controller.sum(b, "rest_client_requests_total")-requests)/float64(rotations), "req")
	cpu := float64(busy.CPU - before.CPU)
	report(b, "CPU per rotation", cpu/float64(time.Millisecond)/float64(rotations), "ms")
	// What a rotation costs of its own: the idle rate over the rotations'
	// time taken away.
	own := cpu - idleCPU*done.Sub(rotating).Seconds()
	report(b, "CPU per rotation above idle", own/float64(time.Millisecond)/float64(rotations), "ms")
	report(b, "RSS after rotations", busy.RSSBytes/(1<<20), "MiB")
	// Whether the rotations left more live (state kept per rotation, an
	// open rotation's cost) or only garbage not yet collected.
	saveHeapProfile(b, pprof, "scale-after-rotations")
	report(b, "heap live after rotations", controller.sum(b, "go_memstats_heap_alloc_bytes")/(1<<20), "MiB")
	report(b, "restarts", controller.sum(b, "eso_bridge_restarts_total", "result", "success"), "n")
	report(b, "patch conflicts retried", controller.sum(b, "eso_bridge_restarts_total", "result", "conflict"), "n")
	report(b, "rotations traced", float64(traced), "n")
	if traced != rotations {
		b.Errorf("%d of %d rotations traced within 3 minutes of the last; the controller's log ends:\n%s", traced, rotations, controller.tail(30))
	}
}

// waitSpans waits until the collector has received want rotation traces
// (their root spans) or timeout passes, and returns how many it has.
func waitSpans(b *testing.B, collector *harness.OTLPReceiver, want int, timeout time.Duration) int {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for collector.Count("secret.rotation") < want && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	return collector.Count("secret.rotation")
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

// waitQuiet waits until the controller's work queues have stayed empty for
// five seconds, or timeout passes.
func waitQuiet(b *testing.B, c *child, timeout time.Duration) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for quiet := 0; quiet < 5 && time.Now().Before(deadline); time.Sleep(time.Second) {
		if c.sum(b, "workqueue_depth") == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
}

// callsOfOneSweep counts the AWS calls between the ends of two sweeps, each
// awaited within timeout.
func callsOfOneSweep(b *testing.B, c *child, timeout time.Duration) float64 {
	b.Helper()
	sweepEnded := func(after float64) float64 {
		deadline := time.Now().Add(timeout)
		for {
			if at := c.sum(b, "eso_bridge_aws_last_sweep_timestamp_seconds"); at > after {
				return at
			}
			if time.Now().After(deadline) {
				b.Fatalf("no AWS sweep ended within %s", timeout)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	first := sweepEnded(0)
	before := c.sum(b, "eso_bridge_aws_calls_total")
	sweepEnded(first)
	return c.sum(b, "eso_bridge_aws_calls_total") - before
}

// saveCPUProfile starts recording the controller's CPU profile, served at
// addr, for d, and writes it to the temporary folder; the channel closes
// when it is written. A profile that fails is told, not fatal: it runs
// beside the measurement, which goes on.
func saveCPUProfile(b *testing.B, addr, name string, d time.Duration) <-chan struct{} {
	b.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, max(int(d.Seconds()), 1))
		if err := saveProfile(url, name, "cpu"); err != nil {
			fmt.Fprintf(os.Stderr, "bench: no CPU profile: %v\n", err)
		}
	}()
	return done
}

// saveHeapProfile writes the controller's heap profile, served at addr, to
// the temporary folder (it outlives the control plane's), for `go tool
// pprof`.
func saveHeapProfile(b *testing.B, addr, name string) {
	b.Helper()
	// gc=1: a collection first, so that the profile is of what is live,
	// not of the last collection's view (an idle process collects rarely).
	if err := saveProfile("http://"+addr+"/debug/pprof/heap?gc=1", name, "heap"); err != nil {
		b.Fatalf("saving the heap profile: %v", err)
	}
}

// saveProfile writes the profile served at url to a file of the temporary
// folder named after name and kind, and says where.
func saveProfile(url, name, kind string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("eso-bridge-bench-%s-%s-%d.pb.gz", name, kind, time.Now().Unix()))
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	if _, err := io.Copy(out, resp.Body); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: %s profile in %s\n", kind, path)
	return nil
}
