package restart

import (
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
)

// The checker sees an ExternalSecret when an annotation it reports on is
// there at first sight, appears or changes; not the rest of a fleet, nor
// eso-bridge's own annotation writes, nor a checked annotation removed.
func TestCheckerSeesOnlyTheAnnotationsItChecks(t *testing.T) {
	es := func(annots map[string]string) *esv1.ExternalSecret {
		return &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "db", Annotations: annots}}
	}
	plain := es(nil)
	traced := es(map[string]string{annotations.AnnotationTraceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	rollout := es(map[string]string{annotations.AnnotationRollout: "deployment/api"})
	rolloutTraced := es(map[string]string{annotations.AnnotationRollout: "deployment/api", annotations.AnnotationTraceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	otherRollout := es(map[string]string{annotations.AnnotationRollout: "deployment/web"})
	emptyWaves := es(map[string]string{annotations.AnnotationWaves: ""})
	window := es(map[string]string{annotations.AnnotationRestartWindow: "Mon-Fri 09:00-17:00"})
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
		{"first sight of one with a restart window", true, checkedAnnotationChanged.Create(event.CreateEvent{Object: window})},
		{"eso-bridge's trace annotation written", false, update(plain, traced)},
		{"a trace annotation written beside a rollout annotation", false, update(rollout, rolloutTraced)},
		{"a rollout annotation added", true, update(traced, rolloutTraced)},
		{"a rollout annotation changed", true, update(rollout, otherRollout)},
		{"an empty waves annotation added", true, update(plain, emptyWaves)},
		{"a rollout annotation removed", false, update(rollout, plain)},
		{"a deletion", false, checkedAnnotationChanged.Delete(event.DeleteEvent{Object: rollout})},
	}
	for _, c := range cases {
		if c.got != c.pass {
			t.Errorf("%s: passed %v, want %v", c.name, c.got, c.pass)
		}
	}
}
