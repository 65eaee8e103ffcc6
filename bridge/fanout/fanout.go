// Package fanout lets the watches of several controllers share one handler
// on an informer.
//
// client-go gives every handler added to a started informer a listener of
// its own: two goroutines, the whole cache replayed to it at once, and a
// ring buffer that grows to hold that replay and never shrinks — 512 KiB
// kept for good per handler on an informer of 20,000 objects. The restart
// controllers, one per workload kind, each watch ExternalSecrets, Secrets
// and every workload kind: 24 such handlers with four kinds (40 with the
// cap on rollouts in progress), and the tracer adds one per kind. Through
// this package each of those informers carries one handler, added before
// the cache starts (so it gets no replay either), which hands each change
// to the sources the controllers start on it.
package fanout

import (
	"context"
	"slices"
	"sync"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// Changes are the changes the cache sees of one kind, handed to every
// source started on them.
type Changes struct {
	obj      client.Object
	cache    cache.Cache
	informer cache.Informer

	mu       sync.RWMutex
	handlers []*registration
}

// Watch adds the one handler to the cache's informer for obj's kind (and
// the informer to the cache, if it has none yet). Call it before the cache
// starts.
func Watch(ctx context.Context, c cache.Cache, obj client.Object) (*Changes, error) {
	informer, err := c.GetInformer(ctx, obj)
	if err != nil {
		return nil, err
	}
	changes := &Changes{obj: obj, cache: c, informer: informer}
	if _, err := informer.AddEventHandler(forwarder{changes}); err != nil {
		return nil, err
	}
	return changes, nil
}

// Source is a controller's share of the changes: from when the controller
// starts it, each passes predicates to h, as a watch of the kind would.
// Unlike such a watch it is not handed the objects already cached: use it
// where those are dropped (event.CreateEvent.IsInInitialList), because the
// controller's own For source queues what they would.
func (c *Changes) Source(h handler.EventHandler, predicates ...predicate.Predicate) source.Source {
	// controller-runtime's own Kind source turns the informer's calls
	// into events, runs the predicates and waits for the cache; it only
	// adds its handler here instead of to the informer.
	return source.Kind(sharedCache{Cache: c.cache, changes: c}, c.obj, h, predicates...)
}

// Notify hands every change to h from now on, in the informer's goroutine.
// Called before the cache starts, h is handed the cache's first fill too.
func (c *Changes) Notify(h toolscache.ResourceEventHandler) {
	c.add(h)
}

// add starts handing the changes to h.
func (c *Changes) add(h toolscache.ResourceEventHandler) *registration {
	r := &registration{handler: h, synced: c.informer.HasSynced}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers = append(c.handlers, r)
	return r
}

// remove stops handing the changes to the handler registered as r.
func (c *Changes) remove(r *registration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers = slices.DeleteFunc(c.handlers, func(h *registration) bool { return h == r })
}

// each calls f for every handler added, in the informer's goroutine: a
// handler's work (its predicates and its mapping to requests) delays the
// others', as it delays the next change with a listener of its own.
func (c *Changes) each(f func(toolscache.ResourceEventHandler)) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, r := range c.handlers {
		f(r.handler)
	}
}

// forwarder is the one handler on the informer.
type forwarder struct{ changes *Changes }

func (f forwarder) OnAdd(obj any, isInInitialList bool) {
	f.changes.each(func(h toolscache.ResourceEventHandler) { h.OnAdd(obj, isInInitialList) })
}

func (f forwarder) OnUpdate(oldObj, newObj any) {
	f.changes.each(func(h toolscache.ResourceEventHandler) { h.OnUpdate(oldObj, newObj) })
}

func (f forwarder) OnDelete(obj any) {
	f.changes.each(func(h toolscache.ResourceEventHandler) { h.OnDelete(obj) })
}

// registration is a handler added to Changes.
type registration struct {
	handler toolscache.ResourceEventHandler
	synced  func() bool
}

// HasSynced is the informer's: the forwarder, added before it started,
// has been handed all it holds once it has synced.
func (r *registration) HasSynced() bool { return r.synced() }

// sharedCache is the cache as a Source's Kind sees it: its informer for
// the kind adds handlers to the Changes.
type sharedCache struct {
	cache.Cache
	changes *Changes
}

// GetInformer returns the shared informer, whatever obj: a sharedCache is
// only handed to a Kind source of the Changes' kind.
func (s sharedCache) GetInformer(context.Context, client.Object, ...cache.InformerGetOption) (cache.Informer, error) {
	return sharedInformer{Informer: s.changes.informer, changes: s.changes}, nil
}

// sharedInformer is the informer whose handlers are the Changes'.
type sharedInformer struct {
	cache.Informer
	changes *Changes
}

func (s sharedInformer) AddEventHandler(h toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error) {
	return s.changes.add(h), nil
}

// AddEventHandlerWithResyncPeriod ignores the period: the forwarder is
// resynced at the informer's own period, which the sources would get.
func (s sharedInformer) AddEventHandlerWithResyncPeriod(h toolscache.ResourceEventHandler, _ time.Duration) (toolscache.ResourceEventHandlerRegistration, error) {
	return s.changes.add(h), nil
}

func (s sharedInformer) AddEventHandlerWithOptions(h toolscache.ResourceEventHandler, _ toolscache.HandlerOptions) (toolscache.ResourceEventHandlerRegistration, error) {
	return s.changes.add(h), nil
}

func (s sharedInformer) RemoveEventHandler(handle toolscache.ResourceEventHandlerRegistration) error {
	if r, ok := handle.(*registration); ok {
		s.changes.remove(r)
	}
	return nil
}
