package traceparent

import (
	"testing"

	"github.com/eso-bridge/eso-bridge/bridge/digest"
	"github.com/eso-bridge/eso-bridge/bridge/digest/digesttest"
)

func TestTraceparentRoundTrips(t *testing.T) {
	sc := NewRotation()
	value := Format(sc)
	if got := Parse(value); got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsSampled() {
		t.Errorf("parse(format(%v)) = %v via %q", sc, got, value)
	}
	for _, garbled := range []string{"", "00-xyz", "00-00000000000000000000000000000000-0000000000000000-01"} {
		if Parse(garbled).IsValid() {
			t.Errorf("Parse(%q) is valid, want invalid", garbled)
		}
	}
}

func TestSpanIDsAreFixedByTheClusterState(t *testing.T) {
	key := digesttest.Key(t, 1)
	a, b := OfWrite(key, "ns", "db", "hash-1"), OfWrite(key, "ns", "db", "hash-1")
	if a.TraceID() != b.TraceID() || a.SpanID() != b.SpanID() {
		t.Error("the same Secret write gave two traces")
	}
	if OfWrite(key, "ns", "db", "hash-2").TraceID() == a.TraceID() || OfWrite(key, "other", "db", "hash-1").TraceID() == a.TraceID() {
		t.Error("different writes share a trace")
	}
	// Without the key, nobody can derive the trace of a guessed data-hash.
	if OfWrite(digesttest.Key(t, 2), "ns", "db", "hash-1").TraceID() == a.TraceID() || OfWrite(digest.Unkeyed, "ns", "db", "hash-1").TraceID() == a.TraceID() {
		t.Error("the trace of a write does not depend on the key")
	}
	tid := a.TraceID()
	if ChildSpanID(tid, "workload.rollout", "Deployment", "ns", "api") != ChildSpanID(tid, "workload.rollout", "Deployment", "ns", "api") {
		t.Error("a workload's rollout span ID changed between two calls")
	}
	if ChildSpanID(tid, "workload.rollout", "Deployment", "ns", "api") == ChildSpanID(tid, "workload.rollout", "StatefulSet", "ns", "api") {
		t.Error("two workloads share a rollout span ID")
	}
}
