package bridge

import (
	"testing"
	"time"
)

func TestTraceparentRoundTrips(t *testing.T) {
	sc := newRotationTrace()
	value := formatTraceparent(sc)
	if got := parseTraceparent(value); got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsSampled() {
		t.Errorf("parse(format(%v)) = %v via %q", sc, got, value)
	}
	for _, garbled := range []string{"", "00-xyz", "00-00000000000000000000000000000000-0000000000000000-01"} {
		if parseTraceparent(garbled).IsValid() {
			t.Errorf("parseTraceparent(%q) is valid, want invalid", garbled)
		}
	}
}

func TestSpanIDsAreFixedByTheClusterState(t *testing.T) {
	a, b := writeTrace("ns", "db", "hash-1"), writeTrace("ns", "db", "hash-1")
	if a.TraceID() != b.TraceID() || a.SpanID() != b.SpanID() {
		t.Error("the same Secret write gave two traces")
	}
	if writeTrace("ns", "db", "hash-2").TraceID() == a.TraceID() || writeTrace("other", "db", "hash-1").TraceID() == a.TraceID() {
		t.Error("different writes share a trace")
	}
	tid := a.TraceID()
	if childSpanID(tid, spanRollout, "Deployment", "ns", "api") != childSpanID(tid, spanRollout, "Deployment", "ns", "api") {
		t.Error("a workload's rollout span ID changed between two calls")
	}
	if childSpanID(tid, spanRollout, "Deployment", "ns", "api") == childSpanID(tid, spanRollout, "StatefulSet", "ns", "api") {
		t.Error("two workloads share a rollout span ID")
	}
}

func TestTimelineKeepsStagesInOrder(t *testing.T) {
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	r := &Rotation{
		VaultChangedAt: at("2026-01-01T00:00:00.500Z"),
		TriggeredAt:    at("2026-01-01T00:00:01.200Z"),
		// The API server's second: before the trigger that caused the write.
		WrittenAt:   at("2026-01-01T00:00:01Z"),
		ConfirmedAt: at("2026-01-01T00:00:01Z"),
		Workloads: []WorkloadRollout{{
			PatchedAt:  *at("2026-01-01T00:00:03.300Z"),
			Outcome:    ReasonRolloutComplete,
			FinishedAt: at("2026-01-01T00:00:04.200Z"),
			// By name "a" comes first, but it was Ready a second after "p",
			// whose Ready time moves to the patch.
			Pods: []PodReady{{Name: "a", ReadyAt: at("2026-01-01T00:00:04Z")}, {Name: "p", ReadyAt: at("2026-01-01T00:00:03Z")}},
		}},
	}
	r.orderStages()
	if !r.WrittenAt.Equal(*r.TriggeredAt) || !r.ConfirmedAt.Equal(*r.WrittenAt) {
		t.Errorf("write %s and confirmation %s are not moved to the trigger %s", r.WrittenAt, r.ConfirmedAt, r.TriggeredAt)
	}
	pods := r.Workloads[0].Pods
	if pods[0].Name != "p" || !pods[0].ReadyAt.Equal(r.Workloads[0].PatchedAt) {
		t.Errorf("first pod %s Ready at %v, want p moved to the patch %s", pods[0].Name, pods[0].ReadyAt, r.Workloads[0].PatchedAt)
	}
	if pods[1].Name != "a" {
		t.Errorf("pods in the order %s, %s; want p, then a (Ready a second later)", pods[0].Name, pods[1].Name)
	}
	if !r.Start().Equal(*r.VaultChangedAt) || !r.End().Equal(*r.Workloads[0].FinishedAt) {
		t.Errorf("rotation spans %s..%s, want the vault change to the rollout's end", r.Start(), r.End())
	}
	if !r.Finished() {
		t.Error("a confirmed rotation with its one rollout complete is not finished")
	}
	r.Workloads = append(r.Workloads, WorkloadRollout{PatchedAt: *at("2026-01-01T00:00:04Z")})
	if r.Finished() {
		t.Error("a rotation with a rollout still rolling is finished")
	}
}

func TestRolloutResultParses(t *testing.T) {
	for value, ok := range map[string]bool{
		`{"outcome":"RolloutComplete","finishedAt":"2026-01-01T00:00:00Z","restartedAt":"x"}`: true,
		"": false, "complete": false, `{"outcome":`: false,
	} {
		if _, got := parseRolloutResult(value); got != ok {
			t.Errorf("parseRolloutResult(%q) ok = %v, want %v", value, got, ok)
		}
	}
}
