package bridge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// A rotation's trace lives in the cluster as a W3C traceparent: on the
// ExternalSecret the trigger annotates (and, through ESO, on its Secret), and
// on the pod template of every workload restarted for it (and so on each new
// pod). The traceparent's span ID is the rotation's root span. Every other
// span ID is derived from the trace and the object it describes, so that
// whichever replica, before or after a restart, emits a span emits the same
// one.

// traceContext is the W3C Trace Context propagator, which parses and formats
// traceparent values.
var traceContext = propagation.TraceContext{}

// parseTraceparent returns the span context in value, or an invalid one.
func parseTraceparent(value string) trace.SpanContext {
	if value == "" {
		return trace.SpanContext{}
	}
	carrier := propagation.MapCarrier{"traceparent": value}
	return trace.SpanContextFromContext(traceContext.Extract(context.Background(), carrier))
}

// formatTraceparent writes sc as a traceparent value.
func formatTraceparent(sc trace.SpanContext) string {
	carrier := propagation.MapCarrier{}
	traceContext.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
	return carrier.Get("traceparent")
}

// newRotationTrace starts the trace of a rotation eso-bridge triggers.
func newRotationTrace() trace.SpanContext {
	var tid trace.TraceID
	var sid trace.SpanID
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:])
	return rootSpanContext(tid, sid)
}

// writeTrace is the trace of a Secret write eso-bridge did not trigger (no
// vault provider, or a change it did not see): derived from the Secret and
// ESO's digest of its data, so every workload restarted for that write, and
// every replica, joins the same trace. The digest only feeds a one-way hash:
// neither it nor anything it can be read back from is exported.
func writeTrace(namespace, secret, dataHash string) trace.SpanContext {
	sum := sha256.Sum256([]byte("eso-bridge/write\x00" + namespace + "\x00" + secret + "\x00" + dataHash))
	var tid trace.TraceID
	var sid trace.SpanID
	copy(tid[:], sum[:16])
	copy(sid[:], sum[16:24])
	return rootSpanContext(tid, sid)
}

func rootSpanContext(tid trace.TraceID, sid trace.SpanID) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
}

// childSpanID is the span ID of the stage of a rotation that concerns one
// object, e.g. ("eso.refresh", "team-a/db") or ("workload.rollout",
// "Deployment/team-a/api").
func childSpanID(tid trace.TraceID, stage string, object ...string) trace.SpanID {
	sum := sha256.Sum256([]byte(tid.String() + "\x00" + stage + "\x00" + strings.Join(object, "/")))
	var sid trace.SpanID
	copy(sid[:], sum[:8])
	return sid
}
