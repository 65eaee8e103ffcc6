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
// to the sources the controllers start on it. A controller's main source
// (For), which must be handed every object already cached, gets that
// replay from a handler added only for it and removed once it is done.
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

// For is a controller's main source of the kind, as builder.For's would be:
// it is handed every object the cache holds when the controller starts it
// (creations in the initial list), then every change, each through
// predicates to h. Only the replay goes through a handler of its own on the
// informer — client-go's listener, which takes a consistent copy of the
// cache — and that handler is removed once the replay is delivered: its two
// goroutines end and its ring buffer, grown to hold the replay, is freed.
// The changes after the copy come through the shared handler, which the
// source joins first, so that none is missed; one made while the copy is
// taken may be handed twice, as a controller's queue takes it.
func (c *Changes) For(h handler.EventHandler, predicates ...predicate.Predicate) source.Source {
	return source.Kind(sharedCache{Cache: c.cache, changes: c, replay: true}, c.obj, h, predicates...)
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

// removeWhenDelivered removes the replay's handler once it has been handed
// all the cache held when it was added (or the informer stopped).
func (c *Changes) removeWhenDelivered(replay toolscache.ResourceEventHandlerRegistration) {
	for !replay.HasSynced() && !c.informer.IsStopped() {
		time.Sleep(replayPoll)
	}
	_ = c.informer.RemoveEventHandler(replay)
}

// replayPoll is how often a replay is checked for its end; client-go's own
// wait for a handler's sync polls as often.
const replayPoll = 100 * time.Millisecond

// initialList hands h the creations of a replay and nothing else: the
// changes come to h through the shared handler.
type initialList struct {
	h toolscache.ResourceEventHandler
}

func (l initialList) OnAdd(obj any, isInInitialList bool) {
	if isInInitialList {
		l.h.OnAdd(obj, true)
	}
}

func (initialList) OnUpdate(_, _ any) {}

func (initialList) OnDelete(any) {}

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
// the kind adds handlers to the Changes, replaying the cache to them when
// replay is set.
type sharedCache struct {
	cache.Cache
	changes *Changes
	replay  bool
}

// GetInformer returns the shared informer, whatever obj: a sharedCache is
// only handed to a Kind source of the Changes' kind.
func (s sharedCache) GetInformer(context.Context, client.Object, ...cache.InformerGetOption) (cache.Informer, error) {
	return sharedInformer{Informer: s.changes.informer, changes: s.changes, replay: s.replay}, nil
}

// sharedInformer is the informer whose handlers are the Changes'.
type sharedInformer struct {
	cache.Informer
	changes *Changes
	replay  bool
}

func (s sharedInformer) AddEventHandler(h toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error) {
	return s.add(h)
}

// AddEventHandlerWithResyncPeriod ignores the period: the forwarder is
// resynced at the informer's own period, which the sources would get.
func (s sharedInformer) AddEventHandlerWithResyncPeriod(h toolscache.ResourceEventHandler, _ time.Duration) (toolscache.ResourceEventHandlerRegistration, error) {
	return s.add(h)
}

func (s sharedInformer) AddEventHandlerWithOptions(h toolscache.ResourceEventHandler, _ toolscache.HandlerOptions) (toolscache.ResourceEventHandlerRegistration, error) {
	return s.add(h)
}

// add joins h to the shared handler's, then, for a For source, replays the
// cache to it.
func (s sharedInformer) add(h toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error) {
	r := s.changes.add(h)
	if !s.replay {
		return r, nil
	}
	replay, err := s.changes.informer.AddEventHandler(initialList{h})
	if err != nil {
		s.changes.remove(r)
		return nil, err
	}
	go s.changes.removeWhenDelivered(replay)
	return r, nil
}

func (s sharedInformer) RemoveEventHandler(handle toolscache.ResourceEventHandlerRegistration) error {
	if r, ok := handle.(*registration); ok {
		s.changes.remove(r)
	}
	return nil
}
