package bridge

import (
	"context"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// The start is over when every controller's queue is empty: queued adds up
// controller-runtime's workqueue_depth across controllers and nothing else.
func TestQueuedAddsUpEveryControllersQueue(t *testing.T) {
	reg := prometheus.NewRegistry()
	depth := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: workqueueDepth}, []string{"controller", "name"})
	other := prometheus.NewGauge(prometheus.GaugeOpts{Name: "workqueue_adds_total_unrelated"})
	reg.MustRegister(depth, other)
	other.Set(7)

	if got, err := queued(reg); err != nil || got != 0 {
		t.Fatalf("no controller yet: queued = %v, %v; want 0", got, err)
	}
	depth.WithLabelValues("deployment", "deployment").Set(3)
	depth.WithLabelValues("externalsecret-trigger", "externalsecret-trigger").Set(2)
	if got, err := queued(reg); err != nil || got != 5 {
		t.Fatalf("queued = %v, %v; want 5", got, err)
	}
	depth.WithLabelValues("deployment", "deployment").Set(0)
	depth.WithLabelValues("externalsecret-trigger", "externalsecret-trigger").Set(0)
	if got, err := queued(reg); err != nil || got != 0 {
		t.Fatalf("drained: queued = %v, %v; want 0", got, err)
	}
}

// syncedCache is a cache whose informers have all synced; startBurst asks
// nothing else of it.
type syncedCache struct{ cache.Cache }

func (syncedCache) WaitForCacheSync(context.Context) bool { return true }

// burstBed runs a startBurst over a real registry whose workqueue_depth the
// test sets, and hands over each give-back's message.
type burstBed struct {
	depth    *prometheus.GaugeVec
	elected  chan struct{}
	releases chan string
	done     chan struct{}
}

func startBurstBed(t *testing.T, elected bool) *burstBed {
	t.Helper()
	return startBurstBedLoosening(t, elected, nil)
}

// startBurstBedLoosening is startBurstBed with the tightened collection's
// end.
func startBurstBedLoosening(t *testing.T, elected bool, loosen func()) *burstBed {
	t.Helper()
	reg := prometheus.NewRegistry()
	bed := &burstBed{depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: workqueueDepth}, []string{"controller", "name"}),
		elected: make(chan struct{}), releases: make(chan string, 4), done: make(chan struct{})}
	reg.MustRegister(bed.depth)
	if elected {
		close(bed.elected)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); <-bed.done })
	s := startBurst{cache: syncedCache{}, queues: reg, elected: bed.elected, every: 5 * time.Millisecond,
		release: func(_ context.Context, what string) { bed.releases <- what }, loosen: loosen}
	go func() { defer close(bed.done); _ = s.Start(ctx) }()
	return bed
}

// next is the next give-back's message, or "" if none comes within d.
func (b *burstBed) next(d time.Duration) string {
	select {
	case what := <-b.releases:
		return what
	case <-time.After(d):
		return ""
	}
}

// waitDone fails t unless startBurst returns soon after what happened.
func (b *burstBed) waitDone(t *testing.T, what string) {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("startBurst still runs after %s", what)
	}
}

// A replica that leads from its start gives its start's memory back once,
// when its controllers' queues are empty, and is done.
func TestStartBurstGivesBackOnceForALeader(t *testing.T) {
	bed := startBurstBed(t, true)
	if got := bed.next(5 * time.Second); !strings.HasPrefix(got, "the start's work is done") {
		t.Fatalf("the start gave back %q", got)
	}
	bed.waitDone(t, "a leader's start was given back")
	// Start has returned: a second give-back would already be waiting.
	select {
	case got := <-bed.releases:
		t.Errorf("a second give-back: %q", got)
	default:
	}
}

// A standby gives back its caches' fill; elected later, its controllers'
// first pass is a burst of its own, given back once their queues are empty.
func TestStartBurstGivesBackAgainWhenAStandbyIsElected(t *testing.T) {
	bed := startBurstBed(t, false)
	if got := bed.next(5 * time.Second); !strings.HasPrefix(got, "the start's work is done") {
		t.Fatalf("the standby's start gave back %q", got)
	}
	// Elected: its controllers' queues fill with every object.
	bed.depth.WithLabelValues("deployment", "deployment").Set(2000)
	close(bed.elected)
	if got := bed.next(100 * time.Millisecond); got != "" {
		t.Fatalf("gave back %q while the first pass was queued", got)
	}
	bed.depth.WithLabelValues("deployment", "deployment").Set(0)
	if got := bed.next(5 * time.Second); !strings.HasPrefix(got, "a new leader's first pass is done") {
		t.Fatalf("the new leader's first pass gave back %q", got)
	}
	bed.waitDone(t, "the new leader's first pass was given back")
}

// drain queues work, checks the collector's target (during, waiting for
// it a while: an election is seen by another goroutine), empties the
// queues and checks that the give-back named what comes with the target
// at after.
func (b *burstBed) drain(t *testing.T, what string, during, after uint64) {
	t.Helper()
	b.depth.WithLabelValues("deployment", "deployment").Set(2000)
	for deadline := time.Now().Add(5 * time.Second); gcPercent() != during && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if got := gcPercent(); got != during {
		t.Fatalf("before %q GOGC is %d, want %d", what, got, during)
	}
	b.depth.WithLabelValues("deployment", "deployment").Set(0)
	if got := b.next(5 * time.Second); !strings.HasPrefix(got, what) {
		t.Fatalf("gave back %q, want %q", got, what)
	}
	if got := gcPercent(); got != after {
		t.Fatalf("after %q GOGC is %d, want %d", what, got, after)
	}
}

// gcPercent is the collector's target now.
func gcPercent() uint64 { return heapMetric("/gc/gogc:percent") }

// The start and a new leader's first pass run with the collector at
// burstGCPercent, and each give-back comes with the target back where it
// was; a target the operator set with GOGC is left alone.
func TestABurstRunsWithATighterCollector(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	bed := startBurstBedLoosening(t, false, tightenCollector())
	bed.drain(t, "the start's work is done", burstGCPercent, 100)
	close(bed.elected)
	bed.drain(t, "a new leader's first pass is done", burstGCPercent, 100)

	t.Setenv("GOGC", "80")
	loosen := tightenCollector()
	if got := gcPercent(); got != 100 {
		t.Errorf("with GOGC set, a burst changed the target to %d", got)
	}
	loosen()
}

// Two managers in one process (the in-process test bed) tighten the
// collector once, and it is loosened when the last of their bursts ends,
// whatever their order; loosening twice counts once.
func TestOverlappingBurstsLoosenOnceTheLastEnds(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	first, second := tightenCollector(), tightenCollector()
	first()
	first()
	if got := gcPercent(); got != burstGCPercent {
		t.Fatalf("one burst still runs, GOGC is %d, want %d", got, burstGCPercent)
	}
	second()
	if got := gcPercent(); got != 100 {
		t.Fatalf("both ended, GOGC is %d, want 100", got)
	}
}
