package restart

import (
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
)

// The checker sees an ExternalSecret when an annotation it reports on is
// there at first sight, appears or changes, and does not parse or names
// workloads; not the rest of a fleet ("auto", or valid annotations), nor
// eso-bridge's own annotation writes, nor a checked annotation removed.
func TestCheckerSeesOnlyTheAnnotationsItChecks(t *testing.T) {
	es := func(annots map[string]string) *esv1.ExternalSecret {
		return &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "db", Annotations: annots}}
	}
	plain := es(nil)
	traced := es(map[string]string{annotations.AnnotationTraceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	auto := es(map[string]string{annotations.AnnotationRollout: "auto"})
	garbled := es(map[string]string{annotations.AnnotationRollout: "deployment/../x"})
	badWaves := es(map[string]string{annotations.AnnotationWaves: "sideways"})
	rollout := es(map[string]string{annotations.AnnotationRollout: "deployment/api"})
	rolloutTraced := es(map[string]string{annotations.AnnotationRollout: "deployment/api", annotations.AnnotationTraceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	otherRollout := es(map[string]string{annotations.AnnotationRollout: "deployment/web"})
	emptyWaves := es(map[string]string{annotations.AnnotationWaves: ""})
	window := es(map[string]string{annotations.AnnotationRestartWindow: "never"})
	update := func(before, after *esv1.ExternalSecret) bool {
		return checkedAnnotationChanged.Update(event.UpdateEvent{ObjectOld: before, ObjectNew: after})
	}
	cases := []struct {
		name string
		pass bool
		got  bool
	}{
		{"first sight of one without checked annotations", false, checkedAnnotationChanged.Create(event.CreateEvent{Object: plain, IsInInitialList: true})},
		{"first sight of one with a rollout annotation", true, checkedAnnotationChanged.Create(event.CreateEvent{Object: rollout, IsInInitialList: true})},
		{"first sight of one with a restart window that does not parse", true, checkedAnnotationChanged.Create(event.CreateEvent{Object: window})},
		{"first sight of one whose rollout annotation says auto", false, checkedAnnotationChanged.Create(event.CreateEvent{Object: auto, IsInInitialList: true})},
		{"first sight of one whose rollout annotation does not parse", true, checkedAnnotationChanged.Create(event.CreateEvent{Object: garbled})},
		{"auto changed to naming a workload", true, update(auto, rollout)},
		{"a workload named changed to auto", false, update(rollout, auto)},
		{"a waves annotation that does not parse added", true, update(plain, badWaves)},
		{"eso-bridge's trace annotation written", false, update(plain, traced)},
		{"a trace annotation written beside a rollout annotation", false, update(rollout, rolloutTraced)},
		{"a rollout annotation added", true, update(traced, rolloutTraced)},
		{"a rollout annotation changed", true, update(rollout, otherRollout)},
		{"an empty waves annotation added (off)", false, update(plain, emptyWaves)},
		{"a rollout annotation removed", false, update(rollout, plain)},
		{"a deletion", false, checkedAnnotationChanged.Delete(event.DeleteEvent{Object: rollout})},
	}
	for _, c := range cases {
		if c.got != c.pass {
			t.Errorf("%s: passed %v, want %v", c.name, c.got, c.pass)
		}
	}
}
