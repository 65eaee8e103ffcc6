package harness

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
)

// PodTemplate returns the pod template of a Deployment, StatefulSet or DaemonSet.
func PodTemplate(t testing.TB, obj client.Object) *corev1.PodTemplateSpec {
	t.Helper()
	switch w := obj.(type) {
	case *appsv1.Deployment:
		return &w.Spec.Template
	case *appsv1.StatefulSet:
		return &w.Spec.Template
	case *appsv1.DaemonSet:
		return &w.Spec.Template
	}
	t.Fatalf("no pod template in %T", obj)
	return nil
}

// Stallable makes the Deployment app's next rollout stall, once stall is
// called, until heal is. Its pods refuse to share the cluster (topology
// kubernetes.io/os) with a blocker pod; stall binds one to the simulated
// node, heal deletes it. With surge 1 and no unavailability the old pods
// keep serving while the rollout passes its progress deadline (2 s).
// Nothing outside the scenario's namespace changes: a change to the shared
// simulated node would postpone its heartbeat (kwok starts a node's stage
// delay again at every change of it) and, repeated, make it NotReady for
// every test. Making it stallable changes the pod template: one revision
// more.
func (s *Scenario) Stallable(app client.Object) (stall, heal func()) {
	s.T.Helper()
	blocker := map[string]string{"stall.eso-bridge.io/blocker": app.GetName()}
	deployment := s.Get(app).(*appsv1.Deployment)
	deployment.Spec.Template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: blocker}, TopologyKey: corev1.LabelOSStable,
		}},
	}}
	deployment.Spec.ProgressDeadlineSeconds = ptr.To[int32](2)
	deployment.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
		MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0)),
	}}
	if err := s.Client.Update(s.Ctx, deployment); err != nil {
		s.T.Fatal(err)
	}
	if err := controlplane.WaitForRollout(s.Ctx, s.Client, app); err != nil {
		s.T.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.NS, Name: app.GetName() + "-stall-blocker", Labels: blocker},
		// Bound by name: the scheduler would keep it off the node by the
		// app's own anti-affinity.
		Spec: corev1.PodSpec{NodeName: controlplane.NodeName(0), Containers: []corev1.Container{{Name: "block", Image: "registry.k8s.io/pause:3.10"}}},
	}
	stall = func() {
		s.T.Helper()
		if err := s.Client.Create(s.Ctx, pod.DeepCopy()); err != nil {
			s.T.Fatalf("creating the blocker pod: %v", err)
		}
	}
	heal = func() {
		s.T.Helper()
		if err := s.Client.Delete(s.Ctx, pod.DeepCopy(), client.GracePeriodSeconds(0)); client.IgnoreNotFound(err) != nil {
			s.T.Fatalf("deleting the blocker pod: %v", err)
		}
	}
	return stall, heal
}
