package restart

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// The creations of the cache's first fill are dropped from the
// ExternalSecret and Secret watches (the workloads' own fill queues each
// workload); every later change of either passes.
func TestAfterTheStartDropsOnlyTheFirstFill(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "db"}}
	cases := []struct {
		name string
		pass bool
		got  bool
	}{
		{"a creation of the first fill", false, afterTheStart.Create(event.CreateEvent{Object: secret, IsInInitialList: true})},
		{"a creation after the fill", true, afterTheStart.Create(event.CreateEvent{Object: secret})},
		{"an update", true, afterTheStart.Update(event.UpdateEvent{ObjectOld: secret, ObjectNew: secret})},
		{"a deletion", true, afterTheStart.Delete(event.DeleteEvent{Object: secret})},
	}
	for _, c := range cases {
		if c.got != c.pass {
			t.Errorf("%s: passed %v, want %v", c.name, c.got, c.pass)
		}
	}
}
