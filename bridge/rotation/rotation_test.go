package rotation

import (
	"testing"
	"time"

	"github.com/eso-bridge/eso-bridge/bridge/events"
)

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
			Outcome:    events.ReasonRolloutComplete,
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
