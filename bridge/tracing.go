package bridge

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Span names of a rotation's trace.
const (
	spanRotation = "secret.rotation"
	spanRefresh  = "eso.refresh"
	spanRollout  = "workload.rollout"
)

// NewTracerProvider returns an OpenTelemetry SDK tracer provider that can
// emit a rotation's spans with the IDs the cluster already holds. Pass the
// exporter as an option (sdktrace.WithBatcher, or WithSyncer in tests).
func NewTracerProvider(opts ...sdktrace.TracerProviderOption) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithIDGenerator(rotationIDs{})}, opts...)...)
}

// rotationIDs gives a span the IDs put in its context by withIDs, so that a
// span emitted after a controller restart, or by another replica, is the
// same span; other spans get random IDs.
type rotationIDs struct{}

type fixedIDs struct {
	trace trace.TraceID
	span  trace.SpanID
}

type fixedIDsKey struct{}

func withIDs(ctx context.Context, tid trace.TraceID, sid trace.SpanID) context.Context {
	return context.WithValue(ctx, fixedIDsKey{}, fixedIDs{trace: tid, span: sid})
}

// NewIDs implements sdktrace.IDGenerator.
func (rotationIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if ids, ok := ctx.Value(fixedIDsKey{}).(fixedIDs); ok {
		return ids.trace, ids.span
	}
	var tid trace.TraceID
	_, _ = rand.Read(tid[:])
	return tid, rotationIDs{}.NewSpanID(ctx, tid)
}

// NewSpanID implements sdktrace.IDGenerator.
func (rotationIDs) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if ids, ok := ctx.Value(fixedIDsKey{}).(fixedIDs); ok {
		return ids.span
	}
	var sid trace.SpanID
	_, _ = rand.Read(sid[:])
	return sid
}

// rotationTracer emits the spans of finished rotations. Each span is
// emitted once per process; its ID is fixed by the cluster's state, so a span
// emitted again after a restart is the same span, not a second trace.
type rotationTracer struct {
	tracer trace.Tracer
	loader RotationLoader

	mu      sync.Mutex
	emitted map[trace.SpanID]time.Time
	// open are rotations seen unfinished, looked at again until they finish:
	// two workloads of one rotation that finish together may each see the
	// other unfinished in the cache.
	open map[openRotation]time.Time
}

type openRotation struct {
	namespace string
	trace     trace.TraceID
	root      trace.SpanID
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

func newRotationTracer(provider trace.TracerProvider, loader RotationLoader) *rotationTracer {
	return &rotationTracer{tracer: provider.Tracer("github.com/eso-bridge/eso-bridge"), loader: loader,
		emitted: map[trace.SpanID]time.Time{}, open: map[openRotation]time.Time{}}
}

// recheck looks at the open rotations again every few seconds until ctx
// ends; it runs on the leader, like the controllers.
func (t *rotationTracer) recheck(ctx context.Context) error {
	ticker := time.NewTicker(recheckEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		t.mu.Lock()
		open := make([]openRotation, 0, len(t.open))
		for rotation, since := range t.open {
			if time.Since(since) > recheckFor {
				delete(t.open, rotation)
				continue
			}
			open = append(open, rotation)
		}
		t.mu.Unlock()
		for _, rotation := range open {
			t.closeIfFinished(ctx, rotation.namespace, rootSpanContext(rotation.trace, rotation.root))
		}
	}
}

// closeIfFinished emits the spans of the rotation sc in namespace once every
// stage that has begun has ended.
// fresh are objects the caller just wrote, which the cache may not hold yet.
func (t *rotationTracer) closeIfFinished(ctx context.Context, namespace string, sc trace.SpanContext, fresh ...client.Object) {
	// A stopped controller traces nothing more: its successor will.
	if t == nil || !sc.IsValid() || ctx.Err() != nil {
		return
	}
	loader := t.loader
	for _, obj := range fresh {
		loader = loader.withFresh(obj)
	}
	r, err := loader.Load(ctx, namespace, sc)
	if err != nil {
		log.FromContext(ctx).Error(err, "reading a rotation to trace it", "traceID", sc.TraceID().String())
		return
	}
	key := openRotation{namespace: namespace, trace: sc.TraceID(), root: sc.SpanID()}
	t.mu.Lock()
	if r.Finished() {
		delete(t.open, key)
	} else if _, known := t.open[key]; !known {
		t.open[key] = time.Now()
	}
	t.mu.Unlock()
	if r.Finished() {
		t.emit(ctx, r, sc)
	}
}

// untraced reports whether a rollout reported within the last
// retraceWithin belongs to a rotation this process has not traced: the
// replica that reported it may have stopped before it emitted the spans. A
// span emitted twice, by two processes, is the same span, with the same IDs;
// the window keeps such repeats to rotations that just ended.
func (t *rotationTracer) untraced(template *corev1.PodTemplateSpec, result rolloutResult) bool {
	if t == nil || result.RestartedAt == "" || time.Since(result.FinishedAt) > retraceWithin {
		return false
	}
	sc := parseTraceparent(template.Annotations[AnnotationTraceparent])
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
func (t *rotationTracer) firstTime(span trace.SpanID) bool {
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

// emit writes the rotation's spans: the root, ESO's refresh, and one per
// finished rollout. Attributes name objects, versions and pods; never a value
// or a data hash.
func (t *rotationTracer) emit(ctx context.Context, r *Rotation, root trace.SpanContext) {
	tid := root.TraceID()
	if t.firstTime(root.SpanID()) {
		attrs := []attribute.KeyValue{attribute.String("k8s.namespace.name", r.Namespace), attribute.Int("eso_bridge.workloads", len(r.Workloads))}
		attrs = append(attrs, r.externalSecretAttributes()...)
		if r.VaultChangedAt != nil {
			attrs = append(attrs, attribute.String("eso_bridge.started_by", "vault change"))
		} else {
			attrs = append(attrs, attribute.String("eso_bridge.started_by", "ESO write"))
		}
		_, span := t.tracer.Start(withIDs(ctx, tid, root.SpanID()), spanRotation, trace.WithNewRoot(),
			trace.WithTimestamp(r.Start()), trace.WithAttributes(attrs...))
		span.End(trace.WithTimestamp(r.End()))
	}
	parent := trace.ContextWithRemoteSpanContext(ctx, root)
	if r.TriggeredAt != nil && r.ConfirmedAt != nil {
		sid := childSpanID(tid, spanRefresh, r.Namespace, r.ExternalSecret)
		if t.firstTime(sid) {
			_, span := t.tracer.Start(withIDs(parent, tid, sid), spanRefresh,
				trace.WithTimestamp(*r.TriggeredAt), trace.WithAttributes(r.externalSecretAttributes()...))
			if r.WrittenAt != nil {
				span.AddEvent("Secret written", trace.WithTimestamp(*r.WrittenAt))
			}
			span.End(trace.WithTimestamp(*r.ConfirmedAt))
		}
	}
	for _, w := range r.Workloads {
		if w.FinishedAt == nil {
			continue
		}
		sid := childSpanID(tid, spanRollout, w.Kind, r.Namespace, w.Name)
		if !t.firstTime(sid) {
			continue
		}
		pods := make([]string, 0, len(w.Pods))
		for _, p := range w.Pods {
			pods = append(pods, p.Name)
		}
		_, span := t.tracer.Start(withIDs(parent, tid, sid), spanRollout, trace.WithTimestamp(w.PatchedAt),
			trace.WithAttributes(
				attribute.String("k8s.namespace.name", r.Namespace),
				attribute.String("k8s.workload.kind", w.Kind),
				attribute.String("k8s.workload.name", w.Name),
				attribute.String("eso_bridge.rollout.revision", w.Revision),
				attribute.String("eso_bridge.rollout.outcome", w.Outcome),
				attribute.StringSlice("k8s.pod.names", pods),
			))
		for _, p := range w.Pods {
			if p.ReadyAt != nil {
				span.AddEvent("pod Ready", trace.WithTimestamp(*p.ReadyAt), trace.WithAttributes(attribute.String("k8s.pod.name", p.Name)))
			}
		}
		if w.Outcome == ReasonRolloutStalled {
			span.SetStatus(codes.Error, w.Message)
		}
		span.End(trace.WithTimestamp(*w.FinishedAt))
	}
}

// externalSecretAttributes name the ExternalSecret, its Secret and the vault
// versions of the rotation.
func (r *Rotation) externalSecretAttributes() []attribute.KeyValue {
	if r.ExternalSecret == "" {
		return nil
	}
	attrs := []attribute.KeyValue{
		attribute.String("k8s.namespace.name", r.Namespace),
		attribute.String("eso.externalsecret.name", r.ExternalSecret),
		attribute.String("eso.externalsecret.resource_version", r.ExternalSecretResourceVersion),
		attribute.String("k8s.secret.name", r.Secret),
		attribute.String("k8s.secret.resource_version", r.SecretResourceVersion),
	}
	if len(r.VaultVersions) > 0 {
		keys, versions := splitPairs(r.VaultVersions)
		attrs = append(attrs, attribute.StringSlice("vault.secret.names", keys), attribute.StringSlice("vault.version_ids", versions))
	}
	if len(r.VaultARNs) > 0 {
		_, arns := splitPairs(r.VaultARNs)
		attrs = append(attrs, attribute.StringSlice("aws.secretsmanager.arns", arns))
	}
	return attrs
}

// splitPairs splits "key=value" pairs at their last "=": keys may hold "=", values never do.
func splitPairs(pairs []string) (keys, values []string) {
	for _, p := range pairs {
		i := strings.LastIndex(p, "=")
		if i < 0 {
			continue
		}
		keys, values = append(keys, p[:i]), append(values, p[i+1:])
	}
	return keys, values
}
