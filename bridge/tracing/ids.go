package tracing

import (
	"context"
	"crypto/rand"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
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
