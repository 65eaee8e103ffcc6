package bridge

import (
	"context"
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
		release: func(_ context.Context, what string) { bed.releases <- what }}
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
