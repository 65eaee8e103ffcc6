package bench_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/integration/harness"
	"github.com/eso-bridge/eso-bridge/integration/release"
)

// reference is one figure of another tool, quoted with the bed it was
// measured on, beside the benchmark figure that measures the same.
type reference struct {
	// Label says what is measured, as the README's table says it.
	Label string `json:"label"`
	// Figure names the benchmark figure, "Benchmark/figure".
	Figure string  `json:"figure"`
	Value  float64 `json:"reloader"`
	Unit   string  `json:"unit"`
}

// reloaderBed is where the Reloader figures were measured.
const reloaderBed = "Stakater Reloader at its newest commit, run with --auto-reload-all, side by side with eso-bridge on one local control plane " +
	"(etcd 3.6.16, kube-apiserver 1.34.4, 2 cores; ESO's writes made identically for both; 150 changes per latency figure; memory the median of two runs). " +
	"Reloader's code is not served by the module proxy here: its figures are quoted from issue 17, not measured again."

// reloaderFigures are Reloader's figures on BenchmarkBesideReloader's shape.
var reloaderFigures = []reference{
	{"resident memory, idle", "BesideReloader/RSS idle", 40.7, "MiB"},
	{"resident memory, 2,000 Secrets × 1 KiB, each with its ExternalSecret and a Deployment", "BesideReloader/RSS 1KiB", 56.2, "MiB"},
	{"resident memory, 2,000 × 64 KiB", "BesideReloader/RSS 64KiB", 223.6, "MiB"},
	{"start → first reaction, 2,000 × 1 KiB", "BesideReloader/start to first reaction", 0.65, "s"},
	{"Secret write → pod template patched, writes 0.2 s apart, p50", "BesideReloader/write→patch spaced p50", 12.6, "ms"},
	{"the same, p99", "BesideReloader/write→patch spaced p99", 96.7, "ms"},
	{"back to back, p50", "BesideReloader/write→patch back to back p50", 95.8, "ms"},
	{"controller CPU per change", "BesideReloader/CPU per change", 9.0, "ms"},
	{"binary size", "BesideReloader/binary size", 68.9, "MiB"},
	{"Go modules linked", "BesideReloader/Go modules linked", 65, "modules"},
}

// BenchmarkBesideReloader measures eso-bridge on the shape Reloader was
// measured on (reloaderFigures): 2,000 ESO-managed Secrets, each with its
// ExternalSecret and one Deployment that reads it, of 1 KiB and of 64 KiB;
// idle memory; changes written 0.2 s apart and back to back, timed from the
// Secret write and from ESO's status write; the reaction to a change made
// as the controller starts. Each resident set is the median of five starts.
// The controller is the release binary, built as the Dockerfile builds it,
// run as its own process with --settle 0 (the settle window, 2 s by
// default, adds to the latency by design).
func BenchmarkBesideReloader(b *testing.B) {
	n, changes := size(2000, 20), size(150, 10)
	exe := releaseBinary(b)
	reportBinary(b, exe)
	args := func(ns string) []string {
		return append([]string{"--namespaces", ns, "--settle", "0s", "--aws-poll-interval", "0"}, unlimited...)
	}

	// Each resident set is the median of several starts (settledMemory).
	starts := size(5, 2)
	idleAnonymous := idleMemory(b, exe, args(harness.Namespace(b)), starts)

	for _, kib := range []int{1, 64} {
		ns := harness.Namespace(b)
		f := newFleet(b, ns, n, kib<<10, true)
		// A first run adopts the fleet; the measured run knows it.
		adopting := launchController(b, exe, nil, args(ns)...)
		waitAdopted(b, f)
		adopting.stop()

		restarts := watchRestarts(b, ns)
		first := restarts.next(fleetName(0))
		started := time.Now()
		pprof := freePort(b)
		c := launchController(b, exe, nil, append(args(ns), "--pprof-bind-address", pprof)...)
		if err := f.rotate(context.Background(), 0); err != nil {
			b.Fatal(err)
		}
		reacted := await(b, first, "the first reaction", 5*time.Minute)
		c.waitMetrics(b)
		// Settled: the start's work done and what it used given back, as a
		// user sees it a little after a start.
		c.waitLog(b, startDone, time.Minute)
		rss := []float64{medianRSS(b, c)}
		// The start's burst: every object arriving at once.
		report(b, fmt.Sprintf("peak RSS %dKiB", kib), c.stats(b).PeakRSSBytes/(1<<20), "MiB")
		anonymous := c.anonymousRSS(b)
		report(b, fmt.Sprintf("anonymous RSS %dKiB", kib), anonymous/(1<<20), "MiB")
		// What one ExternalSecret, its Secret and its Deployment cost.
		report(b, fmt.Sprintf("anonymous RSS per member %dKiB", kib), (anonymous-idleAnonymous)/float64(n)/(1<<10), "KiB")
		report(b, fmt.Sprintf("heap in use %dKiB", kib), c.sum(b, "go_memstats_heap_inuse_bytes")/(1<<20), "MiB")
		saveHeapProfile(b, pprof, fmt.Sprintf("beside-reloader-%dKiB", kib))
		// The profile's collection leaves the heap holding what is live:
		// the floor under the resident set, without the collector's headroom.
		report(b, fmt.Sprintf("heap live %dKiB", kib), c.sum(b, "go_memstats_heap_alloc_bytes")/(1<<20), "MiB")
		if kib != 1 {
			c.stop()
			more, _ := restartedRSS(b, exe, args(ns), starts-1)
			reportRSS(b, fmt.Sprintf("RSS %dKiB", kib), append(rss, more...))
			continue
		}
		report(b, "start to first reaction", reacted.Sub(started).Seconds(), "s")
		before := c.stats(b)
		// Where the controller's CPU goes while it follows the spaced changes.
		profiled := saveCPUProfile(b, pprof, "beside-reloader", time.Duration(changes)*200*time.Millisecond)
		spaced := timedChanges(b, f, restarts, 1, changes, 200*time.Millisecond)
		<-profiled
		reportLatencies(b, "write→patch spaced", spaced.fromWrite)
		reportLatencies(b, "status→patch spaced", spaced.fromStatus)
		reportLatencies(b, "status→patch at the API server spaced", spaced.atServer)
		backToBack := timedChanges(b, f, restarts, 1+changes, changes, 0)
		reportLatencies(b, "write→patch back to back", backToBack.fromWrite)
		reportLatencies(b, "status→patch back to back", backToBack.fromStatus)
		reportLatencies(b, "status→patch at the API server back to back", backToBack.atServer)
		time.Sleep(2 * time.Second) // the Events and rollout checks that follow a patch
		report(b, "CPU per change", float64(c.stats(b).CPU-before.CPU)/float64(time.Millisecond)/float64(2*changes), "ms")
		// The resident set read above follows the start's memory given
		// back; the changes' garbage then fills the collector's headroom
		// again, and this is where it stands after them.
		report(b, "RSS 1KiB after the changes", medianRSS(b, c)/(1<<20), "MiB")
		report(b, "heap in use 1KiB after the changes", c.sum(b, "go_memstats_heap_inuse_bytes")/(1<<20), "MiB")
		// Whether the changes left more live (state kept per change) or only
		// garbage the collector has not yet needed to reclaim.
		saveHeapProfile(b, pprof, "beside-reloader-1KiB-after-the-changes")
		report(b, "heap live 1KiB after the changes", c.sum(b, "go_memstats_heap_alloc_bytes")/(1<<20), "MiB")
		c.stop()
		more, _ := restartedRSS(b, exe, args(ns), starts-1)
		reportRSS(b, "RSS 1KiB", append(rss, more...))
		// What every patch-latency figure above contains on this bed.
		reportLatencies(b, "patch→watch (the bed's floor)", patchToWatch(b, f, size(50, 5)))
	}
}

// latencies are the timed changes' latencies to their patches.
type latencies struct {
	// fromWrite and fromStatus run from the Secret write and from ESO's
	// status write, as the benchmark made them, to the patch, as the
	// benchmark's watch saw it: the bed's floor (patchToWatch) is in each.
	fromWrite, fromStatus []time.Duration
	// atServer runs from the API server's answer to the status write to
	// the arrival of the controller's patch, both by the API server's clock
	// (its audit log): the controller's own reaction.
	atServer []time.Duration
}

// timedChanges rotates count members of the fleet from the first-th on, a
// change every spacing (0: each as soon as the last was written), and
// returns each one's latency to its patch.
func timedChanges(b *testing.B, f *fleet, restarts *changes, first, count int, spacing time.Duration) latencies {
	b.Helper()
	type change struct {
		patched         <-chan time.Time
		written, status time.Time
		name            string
	}
	var made []change
	next := time.Now()
	for r := range count {
		i := ((first + r) * 7919) % f.n // spread over the fleet, each member once
		time.Sleep(time.Until(next))
		ch := change{patched: restarts.next(fleetName(i)), written: time.Now(), name: fleetName(i)}
		if err := f.rotate(context.Background(), i); err != nil {
			b.Fatal(err)
		}
		ch.status = time.Now()
		made = append(made, ch)
		next = ch.written.Add(spacing)
	}
	var l latencies
	audited := make([]auditedChange, 0, len(made))
	for _, ch := range made {
		patched := await(b, ch.patched, "the restart of "+ch.name, time.Minute)
		l.fromWrite, l.fromStatus = append(l.fromWrite, patched.Sub(ch.written)), append(l.fromStatus, patched.Sub(ch.status))
		audited = append(audited, auditedChange{name: ch.name, written: ch.written})
	}
	l.atServer = auditedReactions(b, f.namespace, audited)
	return l
}

// releaseBinary builds cmd/eso-bridge with the Dockerfile's own build step
// (static, stripped, its build tags): the binary the image ships.
func releaseBinary(b *testing.B) string {
	b.Helper()
	exe := filepath.Join(b.TempDir(), "eso-bridge")
	if _, err := release.Build(filepath.Join("..", ".."), runtime.GOARCH, "bench", exe); err != nil {
		b.Fatalf("building the release binary: %v", err)
	}
	return exe
}

// reportBinary reports the size of the binary exe and the Go modules it
// links.
func reportBinary(b *testing.B, exe string) {
	b.Helper()
	info, err := os.Stat(exe)
	if err != nil {
		b.Fatal(err)
	}
	report(b, "binary size", float64(info.Size())/(1<<20), "MiB")
	out, err := exec.Command("go", "version", "-m", exe).Output()
	if err != nil {
		b.Fatalf("go version -m: %v", err)
	}
	modules := 0
	for _, line := range strings.Split(string(out), "\n") {
		if fields := strings.Fields(line); len(fields) > 0 && fields[0] == "dep" {
			modules++
		}
	}
	report(b, "Go modules linked", float64(modules), "modules")
}

// probeAnnotation is the Deployment annotation patchToWatch writes.
const probeAnnotation = "bench.eso-bridge.io/probe"

// patchToWatch times count patches of an annotation on one of the fleet's
// Deployments, 0.2 s apart, each until the benchmark's own watch sees it:
// the round trip of a patch and the watch delivery that every
// status→patch figure contains, with ESO's watch delivery to the
// controller besides — the bed's floor for them.
func patchToWatch(b *testing.B, f *fleet, count int) []time.Duration {
	b.Helper()
	probes := watchDeployments(b, f.namespace, func(d *appsv1.Deployment) string { return d.Annotations[probeAnnotation] })
	name := fleetName(f.n - 1)
	var took []time.Duration
	// The first patch only makes sure the watch has seen the Deployment.
	for i := range count + 1 {
		seen := probes.next(name)
		patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"metadata":{"annotations":{%q:"%d"}}}`, probeAnnotation, i))
		started := time.Now()
		if err := f.c.Patch(context.Background(), &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: f.namespace, Name: name}}, patch); err != nil {
			b.Fatalf("patching %s: %v", name, err)
		}
		if i == 0 {
			time.Sleep(time.Second)
			continue
		}
		took = append(took, await(b, seen, "the probe patch of "+name, time.Minute).Sub(started))
		time.Sleep(200 * time.Millisecond)
	}
	return took
}

// idleMemory starts the controller with no member to watch starts times and
// reports the median of its resident set (settledMemory) and of its own,
// anonymous part. It returns the latter: the base the members' cost is
// counted from.
func idleMemory(b *testing.B, exe string, args []string, starts int) float64 {
	b.Helper()
	rss, anonymous := restartedRSS(b, exe, args, starts)
	reportRSS(b, "RSS idle", rss)
	report(b, "anonymous RSS idle", median(anonymous)/(1<<20), "MiB")
	// What the base holds before any member: the libraries' own state.
	pprof := freePort(b)
	idle := launchController(b, exe, nil, append(args, "--pprof-bind-address", pprof)...)
	idle.waitLog(b, startDone, time.Minute)
	saveHeapProfile(b, pprof, "beside-reloader-idle")
	report(b, "heap live idle", idle.sum(b, "go_memstats_heap_alloc_bytes")/(1<<20), "MiB")
	idle.stop()
	return median(anonymous)
}

// settledMemory starts the controller as a fresh process, waits for its
// start's work to be done, and returns its resident set (medianRSS) and the
// anonymous part of it. A resident set moves by a few MiB from one start to
// the next, as the page cache and its fault-around map more or fewer of the
// binary's pages: one start would make a comparison a draw.
func settledMemory(b *testing.B, exe string, args []string) (rss, anonymous float64) {
	b.Helper()
	c := launchController(b, exe, nil, args...)
	defer c.stop()
	c.waitLog(b, startDone, time.Minute)
	return medianRSS(b, c), c.anonymousRSS(b)
}

// restartedRSS starts the controller starts times (settledMemory) and
// returns each start's resident set and the anonymous part of it.
func restartedRSS(b *testing.B, exe string, args []string, starts int) (rss, anonymous []float64) {
	b.Helper()
	for range starts {
		r, a := settledMemory(b, exe, args)
		rss, anonymous = append(rss, r), append(anonymous, a)
	}
	return rss, anonymous
}

// reportRSS reports the median of resident sets measured at several starts,
// the lowest and the highest, and logs them all.
func reportRSS(b *testing.B, name string, rss []float64) {
	b.Helper()
	mib := make([]string, len(rss))
	for i, v := range rss {
		mib[i] = fmt.Sprintf("%.1f", v/(1<<20))
	}
	b.Logf("%s of %d starts, MiB: %s", name, len(rss), strings.Join(mib, " "))
	report(b, name, median(rss)/(1<<20), "MiB")
	report(b, name+", lowest start", slices.Min(rss)/(1<<20), "MiB")
	report(b, name+", highest start", slices.Max(rss)/(1<<20), "MiB")
}
