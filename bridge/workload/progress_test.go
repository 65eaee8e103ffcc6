package workload

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/kubectl/pkg/polymorphichelpers"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The controller judges rollouts without linking kubectl; its rules must
// still be `kubectl rollout status`'s, which users check by hand. Each kind's
// Progress is compared with kubectl's own status viewer over many statuses.
func TestProgressAgreesWithKubectlRolloutStatus(t *testing.T) {
	random := rand.New(rand.NewPCG(3, 4))
	small := func() int32 { return random.Int32N(4) }
	optional := func() *int32 {
		if random.IntN(4) == 0 {
			return nil
		}
		return ptr.To(small())
	}
	cases := []struct {
		kind Kind
		make func() client.Object
	}{
		{Deployment{}, func() client.Object {
			d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Generation: int64(1 + small())}}
			d.Spec.Replicas = optional()
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: int64(small()), Replicas: small(), UpdatedReplicas: small(), AvailableReplicas: small()}
			if reason := []string{"", "NewReplicaSetAvailable", ProgressDeadlineExceeded}[random.IntN(3)]; reason != "" {
				d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Reason: reason}}
			}
			return d
		}},
		{StatefulSet{}, func() client.Object {
			s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Generation: int64(1 + small())}}
			s.Spec.Replicas = optional()
			s.Spec.UpdateStrategy.Type = []appsv1.StatefulSetUpdateStrategyType{appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType}[random.IntN(2)]
			if random.IntN(2) == 0 {
				s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: optional()}
			}
			revisions := []string{"db-1", "db-2"}
			s.Status = appsv1.StatefulSetStatus{ObservedGeneration: int64(small()), ReadyReplicas: small(), UpdatedReplicas: small(), CurrentReplicas: small(),
				CurrentRevision: revisions[random.IntN(2)], UpdateRevision: revisions[random.IntN(2)]}
			return s
		}},
		{DaemonSet{}, func() client.Object {
			d := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Generation: int64(1 + small())}}
			d.Spec.UpdateStrategy.Type = []appsv1.DaemonSetUpdateStrategyType{appsv1.RollingUpdateDaemonSetStrategyType, appsv1.OnDeleteDaemonSetStrategyType}[random.IntN(2)]
			d.Status = appsv1.DaemonSetStatus{ObservedGeneration: int64(small()), DesiredNumberScheduled: small(), UpdatedNumberScheduled: small(), NumberAvailable: small()}
			return d
		}},
	}
	for _, c := range cases {
		viewer, err := polymorphichelpers.StatusViewerFor(appsv1.SchemeGroupVersion.WithKind(c.kind.Kind()).GroupKind())
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3000 {
			obj := c.make()
			content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
			if err != nil {
				t.Fatal(err)
			}
			message, done, err := viewer.Status(&unstructured.Unstructured{Object: content}, 0)
			want := Progress{Done: done && err == nil, Stalled: err != nil, Message: strings.TrimSpace(message)}
			if err != nil {
				want.Message = err.Error()
			}
			// Judged as the cache holds it: decoded into the kind's own type
			// (a Deployment's record).
			cached := c.kind.New()
			if raw, err := json.Marshal(obj); err != nil || json.Unmarshal(raw, cached) != nil {
				t.Fatalf("%s %d: no JSON round trip: %v", c.kind.Kind(), i, err)
			}
			got, ok := c.kind.Progress(cached)
			if !ok || got.Done != want.Done || got.Stalled != want.Stalled || got.Message != want.Message {
				t.Fatalf("%s %d, %s: Progress = %+v, kubectl says %+v", c.kind.Kind(), i, fmt.Sprintf("%+v", obj), got, want)
			}
		}
	}
}
