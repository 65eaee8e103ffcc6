// Package tracing emits one OpenTelemetry trace per rotation, with span IDs
// fixed by the cluster's state so that whichever replica emits a span, before
// or after a restart, emits the same one. Spans are made from the rotation
// read model; tracing is off at no cost when no exporter is configured.
package tracing

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/rotation"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// Span names of a rotation's trace.
const (
	spanRotation = "secret.rotation"
	spanRefresh  = "eso.refresh"
	spanRollout  = "workload.rollout"
)

// Tracer emits the spans of finished rotations. Each span is
// emitted once per process; its ID is fixed by the cluster's state, so a span
// emitted again after a restart is the same span, not a second trace.
type Tracer struct {
	tracer trace.Tracer
	loader rotation.Loader

	mu      sync.Mutex
	emitted map[trace.SpanID]time.Time
	// open are rotations seen unfinished, looked at again until they finish:
	// two workloads of one rotation that finish together may each see the
	// other unfinished in the cache.
	open map[openRotation]*openState
	// readers are the open rotations read from each object (a whole
	// namespace under the empty key): only a change to one of those can
	// move a rotation on.
	readers map[objectRef]map[openRotation]bool
	// touched are the open rotations one of whose objects changed since the
	// last recheck.
	touched map[openRotation]bool
}

type openRotation struct {
	namespace string
	trace     trace.TraceID
	root      trace.SpanID
}

// openState is what the tracer knows of an open rotation.
type openState struct {
	since time.Time
	// reads are the objects it was last read from (rotation.ReadFrom).
	reads []objectRef
}

// objectRef names an object of a namespace by workload.Key ("secret/db");
// the empty key stands for the whole namespace.
type objectRef struct {
	namespace, key string
}

// Rotations still open after recheckFor are given up: a stage that never
// ends (a rollout nobody reports) must not keep them forever.
const (
	recheckEvery = 2 * time.Second
	recheckFor   = 30 * time.Minute
	// retraceWithin is how recent a rollout reported by another process
	// must be for this one to trace its rotation: longer than a leader
	// hand-over or a controller restart takes.
	retraceWithin = 2 * time.Minute
)

// NewTracer returns a tracer that emits through provider and reads
// rotations with loader.
func NewTracer(provider trace.TracerProvider, loader rotation.Loader) *Tracer {
	return &Tracer{tracer: provider.Tracer("github.com/eso-bridge/eso-bridge"), loader: loader,
		emitted: map[trace.SpanID]time.Time{}, open: map[openRotation]*openState{},
		readers: map[objectRef]map[openRotation]bool{}, touched: map[openRotation]bool{}}
}

// Touched records that the object of kind and name in namespace changed (an
// ExternalSecret, a Secret, a workload); the cache holds the change when it
// calls. An open rotation is looked at again only when an object it was
// read from changed: it costs nothing while nothing about it changes.
func (t *Tracer) Touched(kind, namespace, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.open) == 0 {
		return
	}
	for _, ref := range []objectRef{{namespace, workload.Key(kind, name)}, {namespace, ""}} {
		for key := range t.readers[ref] {
			t.touched[key] = true
		}
	}
}

// Recheck looks again, every few seconds until ctx ends, at the open
// rotations touched since; it runs on the leader, like the controllers.
func (t *Tracer) Recheck(ctx context.Context) error {
	ticker := time.NewTicker(recheckEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		t.mu.Lock()
		for key, state := range t.open {
			if time.Since(state.since) > recheckFor {
				t.forget(key)
			}
		}
		pending := slices.Collect(maps.Keys(t.touched))
		clear(t.touched)
		t.mu.Unlock()
		for _, key := range pending {
			t.CloseIfFinished(ctx, key.namespace, traceparent.Root(key.trace, key.root))
		}
	}
}

// follow records that the open rotation key was read from reads; t.mu held.
func (t *Tracer) follow(key openRotation, reads []string) {
	state := t.open[key]
	if state == nil {
		state = &openState{since: time.Now()}
		t.open[key] = state
	}
	t.unfollow(key, state)
	if len(reads) == 0 {
		reads = []string{""} // the whole namespace: see rotation.ReadFrom
	}
	state.reads = state.reads[:0]
	for _, r := range reads {
		state.reads = append(state.reads, objectRef{key.namespace, r})
	}
	for _, ref := range state.reads {
		if t.readers[ref] == nil {
			t.readers[ref] = map[openRotation]bool{}
		}
		t.readers[ref][key] = true
	}
}

// unfollow drops key from the readers of what it was read from; t.mu held.
func (t *Tracer) unfollow(key openRotation, state *openState) {
	for _, ref := range state.reads {
		delete(t.readers[ref], key)
		if len(t.readers[ref]) == 0 {
			delete(t.readers, ref)
		}
	}
}

// forget drops the open rotation key; t.mu held.
func (t *Tracer) forget(key openRotation) {
	if state := t.open[key]; state != nil {
		t.unfollow(key, state)
		delete(t.open, key)
	}
	delete(t.touched, key)
}

// CloseIfFinished emits the spans of the rotation sc in namespace once every
// stage that has begun has ended.
// fresh are objects the caller just wrote, which the cache may not hold yet.
func (t *Tracer) CloseIfFinished(ctx context.Context, namespace string, sc trace.SpanContext, fresh ...client.Object) {
	// A stopped controller traces nothing more: its successor will.
	if t == nil || !sc.IsValid() || ctx.Err() != nil {
		return
	}
	loader := t.loader
	for _, obj := range fresh {
		loader = loader.WithFresh(obj)
	}
	r, err := loader.Load(ctx, namespace, sc)
	if err != nil {
		log.FromContext(ctx).Error(err, "reading a rotation to trace it", "traceID", sc.TraceID().String())
		return
	}
	key := openRotation{namespace: namespace, trace: sc.TraceID(), root: sc.SpanID()}
	t.mu.Lock()
	if r.Finished() {
		t.forget(key)
	} else {
		if _, known := t.open[key]; !known {
			// A change made while it was read was not recorded (it was not
			// open yet): look once more.
			t.touched[key] = true
		}
		t.follow(key, r.ReadFrom())
	}
	t.mu.Unlock()
	if r.Finished() {
		t.emit(ctx, r, sc)
	}
}

// Untraced reports whether a rollout reported within the last
// retraceWithin belongs to a rotation this process has not traced: the
// replica that reported it may have stopped before it emitted the spans. A
// span emitted twice, by two processes, is the same span, with the same IDs;
// the window keeps such repeats to rotations that just ended.
func (t *Tracer) Untraced(templateAnnotations map[string]string, result annotations.RolloutResult) bool {
	if t == nil || result.RestartedAt == "" || time.Since(result.FinishedAt) > retraceWithin {
		return false
	}
	sc := traceparent.Parse(templateAnnotations[annotations.AnnotationTraceparent])
	if !sc.IsValid() {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	_, done := t.emitted[sc.SpanID()]
	return !done
}

// firstTime reports whether span has not been emitted by this process, and
// forgets spans older than an hour.
func (t *Tracer) firstTime(span trace.SpanID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if _, done := t.emitted[span]; done {
		return false
	}
	for id, at := range t.emitted {
		if now.Sub(at) > time.Hour {
			delete(t.emitted, id)
		}
	}
	t.emitted[span] = now
	return true
}
