package restart

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/index"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// ReasonRolloutCap is the hold reason of a restart waiting for a rollout in
// progress to end, over the cap.
const ReasonRolloutCap = "RolloutCapReached"

// RolloutCap holds a restart back while too many rollouts eso-bridge
// started have not completed, across the cluster and in the workload's
// namespace. It counts from the cache's RollingOut index, so a controller
// restarted or a new leader counts the same; and it remembers the restarts
// it let through until the cache shows them, so that workers deciding at
// once never go over the cap together.
type RolloutCap struct {
	// Max and NamespaceMax are the caps; 0 is none.
	Max, NamespaceMax int
	// Reader is the manager's cache, with the index package's fields.
	Reader ctrl.Reader
	Kinds  []workload.Kind

	mu sync.Mutex
	// started are the restarts let through whose pod template, as the cache
	// holds it, may not show them yet.
	started map[rolloutKey]startedRollout
	// waiting are the workloads held back, by kind, to wake when a rollout
	// ends.
	waiting map[string]map[types.NamespacedName]bool
}

// startedRollout is a restart let through: the restarted-at it writes,
// and when.
type startedRollout struct {
	kind        workload.Kind
	restartedAt string
	at          time.Time
	// previous is the restart of the same workload it replaced, still to
	// count if this one is given back: a reconcile that read a stale copy
	// decides to restart again, and loses its patch to the optimistic lock.
	previous *startedRollout
}

// cacheLagBound is how long a restart let through counts by itself: the
// cache shows a write well within it, and a pod template the user changed
// meanwhile would otherwise never match.
const cacheLagBound = time.Minute

// rolloutKey names one workload of one kind.
type rolloutKey struct {
	kind string
	types.NamespacedName
}

// Enabled reports whether any cap is set.
func (c *RolloutCap) Enabled() bool {
	return c != nil && (c.Max > 0 || c.NamespaceMax > 0)
}

// Take lets the restart of obj (of kind) start, and reserves its place,
// unless a cap is reached: then ok is false, held says so in a sentence,
// and first is true when obj was not waiting already. restartedAt is the
// pod template annotation the restart writes; a restart that does not
// happen after all must be given back (Release).
func (c *RolloutCap) Take(ctx context.Context, kind workload.Kind, obj ctrl.Object, restartedAt string) (ok bool, held string, first bool, err error) {
	key := rolloutKey{kind.Kind(), ctrl.ObjectKeyFromObject(obj)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started == nil {
		c.started, c.waiting = map[rolloutKey]startedRollout{}, map[string]map[types.NamespacedName]bool{}
	}
	rolling, err := c.rolling(ctx, key.Namespace)
	if err != nil {
		return false, "", false, err
	}
	inNamespace := 0
	for k := range rolling {
		if k.Namespace == key.Namespace {
			inNamespace++
		}
	}
	switch {
	case rolling[key]:
		// Its own rollout in progress is replaced by the new one, not added.
	case c.NamespaceMax > 0 && inNamespace >= c.NamespaceMax:
		held = fmt.Sprintf("%d rollouts in progress in namespace %s, the most --namespace-max-rollouts-in-progress allows", inNamespace, key.Namespace)
	case c.Max > 0 && len(rolling) >= c.Max:
		held = fmt.Sprintf("%d rollouts in progress, the most --max-rollouts-in-progress allows", len(rolling))
	}
	if held != "" {
		byName := c.waiting[key.kind]
		if byName == nil {
			byName = map[types.NamespacedName]bool{}
			c.waiting[key.kind] = byName
		}
		first = !byName[key.NamespacedName]
		byName[key.NamespacedName] = true
		return false, held, first, nil
	}
	delete(c.waiting[key.kind], key.NamespacedName)
	next := startedRollout{kind: kind, restartedAt: restartedAt, at: time.Now()}
	if previous, ok := c.started[key]; ok {
		previous.previous = nil
		next.previous = &previous
	}
	c.started[key] = next
	return true, "", false, nil
}

// Release gives back the place Take reserved for the restart of obj that
// writes restartedAt and did not happen (rate-limited, or its patch
// failed). An earlier restart of obj it replaced counts again.
func (c *RolloutCap) Release(kind workload.Kind, obj ctrl.Object, restartedAt string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := rolloutKey{kind.Kind(), ctrl.ObjectKeyFromObject(obj)}
	entry, ok := c.started[key]
	switch {
	case !ok || entry.restartedAt != restartedAt:
	case entry.previous != nil:
		c.started[key] = *entry.previous
	default:
		delete(c.started, key)
	}
}

// rolling returns the rollouts in progress that count against the caps:
// across the cluster when Max is set, else in namespace; the cache's, and
// those let through that the cache does not show yet. Called with mu held.
func (c *RolloutCap) rolling(ctx context.Context, namespace string) (map[rolloutKey]bool, error) {
	var where []ctrl.ListOption
	if c.Max == 0 {
		where = append(where, ctrl.InNamespace(namespace))
	}
	rolling := map[rolloutKey]bool{}
	for _, kind := range c.Kinds {
		list := kind.NewList()
		if err := c.Reader.List(ctx, list, append(where, ctrl.MatchingFields{index.RollingOut: index.Rolling}, ctrl.UnsafeDisableDeepCopy)...); err != nil {
			return nil, fmt.Errorf("counting the %s rollouts in progress: %w", kind.Kind(), err)
		}
		for _, obj := range kind.Items(list) {
			rolling[rolloutKey{kind.Kind(), ctrl.ObjectKeyFromObject(obj)}] = true
		}
	}
	for key, started := range c.started {
		if time.Since(started.at) > cacheLagBound {
			delete(c.started, key)
			continue
		}
		kind := started.kind
		obj := kind.New()
		err := c.Reader.Get(ctx, key.NamespacedName, obj)
		if err != nil {
			if ctrl.IgnoreNotFound(err) != nil {
				return nil, err
			}
			delete(c.started, key) // gone: nothing rolls
			continue
		}
		if kind.TemplateAnnotations(obj)[annotations.AnnotationRestartedAt] == started.restartedAt {
			// The cache shows it: the index counts it from now on. It may
			// not have when it was listed above, a moment ago: counted here
			// as the index counts it.
			delete(c.started, key)
			if !index.IsRollingOut(kind, obj) {
				continue
			}
		}
		if c.Max > 0 || key.Namespace == namespace {
			rolling[key] = true
		}
	}
	return rolling, nil
}

// Waiters returns the workloads of kind held back by a cap: a rollout
// that ended may let them go.
func (c *RolloutCap) Waiters(kind string) []reconcile.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	requests := make([]reconcile.Request, 0, len(c.waiting[kind]))
	for name := range c.waiting[kind] {
		requests = append(requests, reconcile.Request{NamespacedName: name})
	}
	return requests
}

// Forget drops a workload that no longer waits: deleted, or no longer
// restarting.
func (c *RolloutCap) Forget(kind string, name types.NamespacedName) {
	if !c.Enabled() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.waiting[kind], name)
}

// capPoll is how often a restart held by the cap looks again if nothing
// wakes it: the end of any rollout does (rolloutEnded), so this only
// bounds what a missed event could delay.
const capPoll = 10 * time.Second

// takeRolloutPlace takes a place among the rollouts in progress for the
// restart of obj; held is true when a cap is reached, and the restart
// then waits for a rollout to end.
func (r *Reconciler) takeRolloutPlace(ctx context.Context, obj ctrl.Object, related runtime.Object, restart map[string]string) (reconcile.Result, bool, error) {
	ok, held, first, err := r.Cap.Take(ctx, r.Kind, obj, restart[annotations.AnnotationRestartedAt])
	if err != nil || ok {
		return reconcile.Result{}, false, err
	}
	log.FromContext(ctx).V(levelDebug).Info("rollouts in progress at the cap", "message", held)
	if first {
		// Once per wait, not per look: a wait is woken by every rollout's end.
		r.Metrics.Holds.WithLabelValues(ReasonRolloutCap).Inc()
		r.Recorder.Normal(obj, related, ReasonRolloutCap, events.ActionGate, "the restart waits for a rollout to end: "+held)
	}
	return reconcile.Result{RequeueAfter: capPoll}, true, nil
}

// rolloutEnded passes the changes of a workload that end a rollout in
// progress: its result recorded, or the workload gone.
var rolloutEnded = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return true },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetAnnotations()[annotations.AnnotationRolloutResult] != e.ObjectNew.GetAnnotations()[annotations.AnnotationRolloutResult]
	},
}

// capWaiters maps the end of any rollout to the workloads of this kind
// the cap holds back.
func (r *Reconciler) capWaiters(context.Context, ctrl.Object) []reconcile.Request {
	return r.Cap.Waiters(r.Kind.Kind())
}
