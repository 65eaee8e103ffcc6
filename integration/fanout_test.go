package integration_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/fanout"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// TestSharedChangesReachEverySourceStartedOnThem checks the one informer
// handler the restart controllers share (package fanout) against a real API
// server: each source started on it is handed every creation, update and
// deletion made after it started — through its own predicates, so one
// source's filter hides nothing from another — and none of the objects the
// cache held before; a controller's main source (For) is handed those
// first, as creations in the initial list, through a handler of the
// informer's that is removed once it has done so.
func TestSharedChangesReachEverySourceStartedOnThem(t *testing.T) {
	ctx := harness.Context(t)
	cp := harness.ControlPlane(t)
	ns := harness.Namespace(t)
	configMap := func(name string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	if err := cp.Client.Create(ctx, configMap("cached-before")); err != nil {
		t.Fatal(err)
	}

	underlying, err := cache.New(cp.Config, cache.Options{Scheme: bridge.Scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		t.Fatal(err)
	}
	c := &countingCache{Cache: underlying}
	changes, err := fanout.Watch(ctx, c, &corev1.ConfigMap{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if err := c.Start(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("cache: %v", err)
		}
	}()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the cache did not sync")
	}

	all, onlyA, forLog := &eventLog{}, &eventLog{}, &eventLog{}
	named := predicate.NewPredicateFuncs(func(obj client.Object) bool { return strings.HasPrefix(obj.GetName(), "a-") })
	for _, src := range []source.Source{changes.Source(all.handler()), changes.Source(onlyA.handler(), named), changes.For(forLog.handler())} {
		q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
		t.Cleanup(q.ShutDown)
		if err := src.Start(ctx, q); err != nil {
			t.Fatal(err)
		}
		if err := src.(source.SyncingSource).WaitForSync(ctx); err != nil {
			t.Fatal(err)
		}
	}

	for _, name := range []string{"a-created", "b-created"} {
		if err := cp.Client.Create(ctx, configMap(name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"a-created", "cached-before"} {
		cm := configMap(name)
		if err := cp.Client.Patch(ctx, cm, client.RawPatch("application/merge-patch+json", []byte(`{"data":{"k":"v"}}`))); err != nil {
			t.Fatal(err)
		}
	}
	if err := cp.Client.Delete(ctx, configMap("a-created")); err != nil {
		t.Fatal(err)
	}

	wantAll := []string{"create a-created", "create b-created", "update a-created", "update cached-before", "delete a-created"}
	wantA := []string{"create a-created", "update a-created", "delete a-created"}
	wantMain := append([]string{"create cached-before (initial list)"}, wantAll...)
	all.waitFor(t, wantAll)
	onlyA.waitFor(t, wantA)
	forLog.waitFor(t, wantMain)
	// The last change has reached both; anything else would have too.
	if got := all.events(); !slices.Equal(got, wantAll) {
		t.Errorf("the unfiltered source was handed %q, want %q (nothing of the cache's first fill)", got, wantAll)
	}
	if got := onlyA.events(); !slices.Equal(got, wantA) {
		t.Errorf("the source passing a-* was handed %q, want %q", got, wantA)
	}
	if got := forLog.events(); !slices.Equal(got, wantMain) {
		t.Errorf("the main (For) source was handed %q, want %q: the cache's objects once, then every change", got, wantMain)
	}
	// The main source's replay came through a handler of its own, which
	// must be gone once it is done: the informer keeps only the shared one.
	deadline := time.Now().Add(30 * time.Second)
	for c.handlers() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the informer has %d handlers after the replay, want 1 (the shared one)", c.handlers())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countingCache counts the handlers added to its informers and not removed.
type countingCache struct {
	cache.Cache
	live atomic.Int32
}

func (c *countingCache) GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error) {
	informer, err := c.Cache.GetInformer(ctx, obj, opts...)
	return countingInformer{Informer: informer, live: &c.live}, err
}

func (c *countingCache) handlers() int32 { return c.live.Load() }

// countingInformer counts the handlers added through it and not removed.
type countingInformer struct {
	cache.Informer
	live *atomic.Int32
}

func (i countingInformer) AddEventHandler(h toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error) {
	i.live.Add(1)
	return i.Informer.AddEventHandler(h)
}

func (i countingInformer) RemoveEventHandler(r toolscache.ResourceEventHandlerRegistration) error {
	i.live.Add(-1)
	return i.Informer.RemoveEventHandler(r)
}

// eventLog records the events a source hands its handler, as "kind name".
type eventLog struct {
	mu  sync.Mutex
	got []string
}

func (l *eventLog) record(what string, obj client.Object, notes ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, what+" "+obj.GetName()+strings.Join(notes, ""))
}

func (l *eventLog) events() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.got)
}

func (l *eventLog) handler() handler.EventHandler {
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if e.IsInInitialList {
				l.record("create", e.Object, " (initial list)")
				return
			}
			l.record("create", e.Object)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			l.record("update", e.ObjectNew)
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			l.record("delete", e.Object)
		},
	}
}

// waitFor waits until the log holds the last of want: the changes reach a
// source in the order they were made.
func (l *eventLog) waitFor(t *testing.T, want []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := l.events()
		last := want[len(want)-1]
		if slices.Contains(got, last) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s the source was handed %q, want %q", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
