package bridge

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// startBurst gives back to the system the memory the start leaves behind.
// A start decodes every watched object and reconciles each once (at 20,000
// members, minutes of adoption), and the heap grows well past what stays
// live. The runtime returns free pages only down to about its next
// collection's goal — twice the live heap at GOGC=100 — so a quiet
// controller would go on holding its start's size. Once the caches have
// synced and every controller's queue has stayed empty for two looks in a
// row, startBurst collects and returns every free page (the same as
// debug.FreeOSMemory, once per burst); the resident set then grows back
// only as far as later work needs, up to that goal on a busy cluster. It
// runs on every replica: a standby's start is its caches' fill, and when it
// is elected later its controllers' first pass over every object is a
// burst of its own, given back the same way once their queues are empty
// again.
//
// A burst also runs with the collector at a tighter target (burstGCPercent,
// from Setup, before the caches fill, until the give-back; and again from
// the election until the first pass is given back): what stays — the
// cached objects, indexes and records — is allocated among what the decode
// and the first reconciles throw away, and at GOGC=100 the heap doubles
// between collections, so each page ends up holding a few objects that
// stay among many freed slots it cannot return. Collected four times as
// often, freed slots are taken again soon and what stays is packed into
// fewer pages.
type startBurst struct {
	cache cache.Cache
	// queues gathers controller-runtime's workqueue_depth.
	queues prometheus.Gatherer
	// elected is closed once this replica leads (at once without leader
	// election): its controllers run from then on.
	elected <-chan struct{}
	every   time.Duration
	// release gives the memory back and logs what; giveBack when nil.
	release func(ctx context.Context, what string)
	// loosen ends the tighter collection begun for the start
	// (tightenCollector); nil when none was.
	loosen func()
}

// workqueueDepth is controller-runtime's gauge of each controller's queue.
const workqueueDepth = "workqueue_depth"

// Start implements manager.Runnable.
func (s startBurst) Start(ctx context.Context) error {
	loosen := s.loosen
	if loosen == nil {
		loosen = func() {}
	}
	defer func() { loosen() }()
	if !s.cache.WaitForCacheSync(ctx) {
		return nil
	}
	release := s.release
	if release == nil {
		release = giveBack
	}
	ledWhenQuiet, ok := s.quiet(ctx)
	if !ok {
		return nil
	}
	loosen()
	release(ctx, "the start's work is done: its memory returned to the system")
	if ledWhenQuiet {
		return nil
	}
	select {
	case <-ctx.Done():
		return nil
	case <-s.elected:
	}
	loosen = tightenCollector()
	if _, ok := s.quiet(ctx); ok {
		loosen()
		release(ctx, "a new leader's first pass is done: its memory returned to the system")
	}
	return nil
}

// burstGCPercent is the collector's target during a burst: a collection
// each time the heap has grown by a quarter of what was live, not doubled.
const burstGCPercent = 25

// tightened counts the bursts under way in this process (the in-process
// test bed and the development command run several managers), and keeps
// the target to go back to once none is.
var tightened struct {
	sync.Mutex
	bursts   int
	previous int
}

// tightenCollector sets the collector's target to burstGCPercent until the
// returned func is called (once is enough; later calls do nothing). It
// changes nothing when the operator chose a target with GOGC.
func tightenCollector() (loosen func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	tightened.Lock()
	defer tightened.Unlock()
	if tightened.bursts == 0 {
		tightened.previous = debug.SetGCPercent(burstGCPercent)
	}
	tightened.bursts++
	return sync.OnceFunc(func() {
		tightened.Lock()
		defer tightened.Unlock()
		if tightened.bursts--; tightened.bursts == 0 {
			debug.SetGCPercent(tightened.previous)
		}
	})
}

// quiet waits until every controller's queue has stayed empty for two looks
// in a row; led says whether this replica was leading, its controllers
// running, when those looks began (the quiet then follows their first
// pass). ok is false when ctx ended first.
func (s startBurst) quiet(ctx context.Context) (led, ok bool) {
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	for empty := 0; empty < 2; {
		select {
		case <-ctx.Done():
			return false, false
		case <-tick.C:
		}
		if depth, err := queued(s.queues); err != nil || depth > 0 {
			empty = 0
			continue
		}
		if empty == 0 {
			led = isClosed(s.elected)
		}
		empty++
	}
	return led, true
}

// giveBack collects and returns every free page to the system, and logs
// what was done with the live heap and what was returned.
func giveBack(ctx context.Context, what string) {
	released := heapMetric("/memory/classes/heap/released:bytes")
	debug.FreeOSMemory()
	log.FromContext(ctx).Info(what,
		"liveHeapMiB", heapMetric("/gc/heap/live:bytes")>>20,
		"returnedMiB", (int64(heapMetric("/memory/classes/heap/released:bytes"))-int64(released))>>20)
}

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: a standby
// fills its caches too.
func (startBurst) NeedLeaderElection() bool { return false }

// queued is how many items wait in all the controllers' queues.
func queued(g prometheus.Gatherer) (float64, error) {
	families, err := g.Gather()
	if err != nil {
		return 0, err
	}
	total := 0.0
	for _, family := range families {
		if family.GetName() != workqueueDepth {
			continue
		}
		for _, m := range family.GetMetric() {
			total += m.GetGauge().GetValue()
		}
	}
	return total, nil
}

// heapMetric reads one of the runtime's uint64 memory metrics.
func heapMetric(name string) uint64 {
	sample := []metrics.Sample{{Name: name}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}
