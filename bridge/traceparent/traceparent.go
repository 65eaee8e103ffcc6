// Package traceparent keeps a rotation's trace in the cluster as a W3C
// traceparent: on the ExternalSecret the trigger annotates (and, through ESO,
// on its Secret), and on the pod template of every workload restarted for it
// (and so on each new pod). It decides which trace a Secret write belongs to,
// for the restart that writes it and for the read model that reads it back.
package traceparent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/digest"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
)

// The traceparent's span ID is the rotation's root span. Every other
// span ID is derived from the trace and the object it describes, so that
// whichever replica, before or after a restart, emits a span emits the same
// one.

// traceContext is the W3C Trace Context propagator, which parses and formats
// traceparent values.
var traceContext = propagation.TraceContext{}

// Parse returns the span context in value, or an invalid one.
func Parse(value string) trace.SpanContext {
	if value == "" {
		return trace.SpanContext{}
	}
	carrier := propagation.MapCarrier{"traceparent": value}
	return trace.SpanContextFromContext(traceContext.Extract(context.Background(), carrier))
}

// Format writes sc as a traceparent value.
func Format(sc trace.SpanContext) string {
	carrier := propagation.MapCarrier{}
	traceContext.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
	return carrier.Get("traceparent")
}

// NewRotation starts the trace of a rotation eso-bridge triggers.
func NewRotation() trace.SpanContext {
	var tid trace.TraceID
	var sid trace.SpanID
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:])
	return Root(tid, sid)
}

// OfWrite is the trace of a Secret write eso-bridge did not trigger (no
// vault provider, or a change it did not see): derived from the Secret and
// ESO's digest of its data, so every workload restarted for that write, and
// every replica, joins the same trace. ESO's digest is itself an unkeyed
// digest of the values, so the trace ID is keyed: a trace backend's reader
// cannot test a guess of a value against it.
func OfWrite(key digest.Key, namespace, secret, dataHash string) trace.SpanContext {
	sum := key.Sum([]byte("eso-bridge/write\x00" + namespace + "\x00" + secret + "\x00" + dataHash))
	var tid trace.TraceID
	var sid trace.SpanID
	copy(tid[:], sum[:16])
	copy(sid[:], sum[16:24])
	return Root(tid, sid)
}

// Root is the span context of a rotation's root span.
func Root(tid trace.TraceID, sid trace.SpanID) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
}

// ChildSpanID is the span ID of the stage of a rotation that concerns one
// object, e.g. ("eso.refresh", "team-a/db") or ("workload.rollout",
// "Deployment/team-a/api").
func ChildSpanID(tid trace.TraceID, stage string, object ...string) trace.SpanID {
	sum := sha256.Sum256([]byte(tid.String() + "\x00" + stage + "\x00" + strings.Join(object, "/")))
	var sid trace.SpanID
	copy(sid[:], sum[:8])
	return sid
}

// ForSource is the trace of the Secret write a workload restarts for: the
// trigger's, when eso-bridge triggered the ExternalSecret shortly before the
// write; otherwise one derived from the write itself.
func ForSource(key digest.Key, es *esv1.ExternalSecret, secret *metav1.PartialObjectMetadata, changedAt time.Time) trace.SpanContext {
	if sc := Parse(es.Annotations[annotations.AnnotationTraceparent]); sc.IsValid() {
		if triggered := annotations.Time(es.Annotations, annotations.AnnotationTriggeredAt); triggered != nil &&
			(secret == nil || !triggered.After(changedAt) && changedAt.Sub(*triggered) < TriggerWindow) {
			return sc
		}
	}
	return OfSecretWrite(key, es, secret)
}

// OfSecretWrite is the trace of the write that left secret as it is; none
// when ESO has not written it.
func OfSecretWrite(key digest.Key, es *esv1.ExternalSecret, secret *metav1.PartialObjectMetadata) trace.SpanContext {
	if secret == nil || secret.Annotations[eso.DataHashAnnotation] == "" {
		return trace.SpanContext{}
	}
	return OfWrite(key, es.Namespace, secret.Name, secret.Annotations[eso.DataHashAnnotation])
}

// TriggerWindow bounds how long after a trigger a Secret write still counts
// as its result; a later write came from something else.
const TriggerWindow = 15 * time.Minute

// Latest is the trace of es's latest rotation: its trigger's, unless ESO
// wrote the Secret long after it for another reason, then that write's.
// Without the key (nil: its reader cannot read it), only a trigger's trace
// is known.
func Latest(key *digest.Key, es *esv1.ExternalSecret, secret *metav1.PartialObjectMetadata) trace.SpanContext {
	if sc := Parse(es.Annotations[annotations.AnnotationTraceparent]); sc.IsValid() {
		if triggered := annotations.Time(es.Annotations, annotations.AnnotationTriggeredAt); triggered != nil &&
			(secret == nil || eso.LastWrite(secret).Sub(*triggered) < TriggerWindow) {
			return sc
		}
	}
	if key == nil {
		return trace.SpanContext{}
	}
	return OfSecretWrite(*key, es, secret)
}

// TriggeredBy returns the ExternalSecret among items whose trigger started
// trace tid, or nil.
func TriggeredBy(items []esv1.ExternalSecret, tid trace.TraceID) *esv1.ExternalSecret {
	for i := range items {
		if Parse(items[i].Annotations[annotations.AnnotationTraceparent]).TraceID() == tid {
			return &items[i]
		}
	}
	return nil
}
