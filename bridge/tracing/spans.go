package tracing

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/rotation"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
)

// emit writes the rotation's spans: the root, ESO's refresh, and one per
// finished rollout. Attributes name objects, versions and pods; never a value
// or a data hash.
func (t *Tracer) emit(ctx context.Context, r *rotation.Rotation, root trace.SpanContext) {
	tid := root.TraceID()
	if t.firstTime(root.SpanID()) {
		attrs := []attribute.KeyValue{attribute.String("k8s.namespace.name", r.Namespace), attribute.Int("eso_bridge.workloads", len(r.Workloads))}
		attrs = append(attrs, externalSecretAttributes(r)...)
		if r.VaultChangedAt != nil {
			attrs = append(attrs, attribute.String("eso_bridge.started_by", "vault change"))
		} else {
			attrs = append(attrs, attribute.String("eso_bridge.started_by", "ESO write"))
		}
		if len(r.Held) > 0 {
			attrs = append(attrs, attribute.StringSlice("eso_bridge.held_workloads", r.Held))
		}
		_, span := t.tracer.Start(withIDs(ctx, tid, root.SpanID()), spanRotation, trace.WithNewRoot(),
			trace.WithTimestamp(r.Start()), trace.WithAttributes(attrs...))
		if r.Failure != "" {
			// Its later waves are held: the rotation failed, though every
			// stage that ran has ended.
			span.SetStatus(codes.Error, r.Failure)
		}
		span.End(trace.WithTimestamp(r.End()))
	}
	parent := trace.ContextWithRemoteSpanContext(ctx, root)
	if r.TriggeredAt != nil && r.ConfirmedAt != nil {
		sid := traceparent.ChildSpanID(tid, spanRefresh, r.Namespace, r.ExternalSecret)
		if t.firstTime(sid) {
			_, span := t.tracer.Start(withIDs(parent, tid, sid), spanRefresh,
				trace.WithTimestamp(*r.TriggeredAt), trace.WithAttributes(externalSecretAttributes(r)...))
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
		sid := traceparent.ChildSpanID(tid, spanRollout, w.Kind, r.Namespace, w.Name)
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
		if w.Outcome == events.ReasonRolloutStalled {
			span.SetStatus(codes.Error, w.Message)
		}
		span.End(trace.WithTimestamp(*w.FinishedAt))
	}
}

// externalSecretAttributes name the ExternalSecret, its Secret and the vault
// versions of the rotation.
func externalSecretAttributes(r *rotation.Rotation) []attribute.KeyValue {
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
