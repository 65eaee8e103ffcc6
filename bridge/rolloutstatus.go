package bridge

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kubectl/pkg/polymorphichelpers"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// RolloutProgress is how far a workload has rolled out its current pod template.
type RolloutProgress struct {
	// Done: every replica runs the current template and is available.
	Done bool
	// Stalled: the rollout cannot finish without help (a progress deadline
	// passed, or the update strategy does not roll pods).
	Stalled bool
	// Message says where the rollout stands, in kubectl's words.
	Message string
	// Revision names the rollout: a Deployment's revision number, a
	// StatefulSet's update revision, an Argo Rollout's pod hash.
	Revision string
}

// ProgressOf judges obj's rollout by the rules of `kubectl rollout
// status` (kubectl's own status viewers), and for an Argo Rollout by its
// phase. It reports false for kinds without a rollout (CronJob).
func ProgressOf(obj client.Object) (RolloutProgress, bool) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return viewStatus(o, appsv1.SchemeGroupVersion.WithKind("Deployment").GroupKind(), o.Annotations["deployment.kubernetes.io/revision"]), true
	case *appsv1.StatefulSet:
		return viewStatus(o, appsv1.SchemeGroupVersion.WithKind("StatefulSet").GroupKind(), o.Status.UpdateRevision), true
	case *appsv1.DaemonSet:
		return viewStatus(o, appsv1.SchemeGroupVersion.WithKind("DaemonSet").GroupKind(), "generation "+strconv.FormatInt(o.Generation, 10)), true
	case *unstructured.Unstructured:
		if o.GroupVersionKind() == ArgoRolloutGVK {
			return argoProgress(o), true
		}
	}
	return RolloutProgress{}, false
}

func viewStatus(obj client.Object, gk schema.GroupKind, revision string) RolloutProgress {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return RolloutProgress{Stalled: true, Message: err.Error(), Revision: revision}
	}
	u := &unstructured.Unstructured{Object: content}
	// Objects from the cache carry no kind: the caller names it.
	viewer, err := polymorphichelpers.StatusViewerFor(gk)
	if err != nil {
		return RolloutProgress{Stalled: true, Message: fmt.Sprintf("%s: %v", gk, err), Revision: revision}
	}
	message, done, err := viewer.Status(u, 0)
	if err != nil {
		// A progress deadline passed, or the strategy (OnDelete) never rolls pods.
		return RolloutProgress{Stalled: true, Message: err.Error(), Revision: revision}
	}
	return RolloutProgress{Done: done, Message: strings.TrimSpace(message), Revision: revision}
}

// argoProgress reads an Argo Rollout's phase: Healthy once its controller
// has seen the current spec, Degraded when it gave up.
func argoProgress(u *unstructured.Unstructured) RolloutProgress {
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	message, _, _ := unstructured.NestedString(u.Object, "status", "message")
	observed, _, _ := unstructured.NestedString(u.Object, "status", "observedGeneration")
	hash, _, _ := unstructured.NestedString(u.Object, "status", "currentPodHash")
	p := RolloutProgress{Revision: hash, Message: strings.TrimSpace("rollout phase " + phase + " " + message)}
	current := observed == strconv.FormatInt(u.GetGeneration(), 10)
	switch {
	case phase == "Healthy" && current:
		p.Done = true
	case phase == "Degraded":
		p.Stalled = true
	}
	return p
}

// podSelector returns the label selector of obj's pods, or nil.
func podSelector(obj client.Object) *metav1.LabelSelector {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Selector
	case *appsv1.StatefulSet:
		return o.Spec.Selector
	case *appsv1.DaemonSet:
		return o.Spec.Selector
	case *unstructured.Unstructured:
		raw, found, err := unstructured.NestedMap(o.Object, "spec", "selector")
		if err != nil || !found {
			return nil
		}
		selector := &metav1.LabelSelector{}
		if runtime.DefaultUnstructuredConverter.FromUnstructured(raw, selector) != nil {
			return nil
		}
		return selector
	}
	return nil
}
