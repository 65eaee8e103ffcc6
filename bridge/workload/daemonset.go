package workload

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DaemonSet adapts apps/v1 DaemonSets.
type DaemonSet struct{}

// Kind implements Kind.
func (DaemonSet) Kind() string { return "DaemonSet" }

// New implements Kind.
func (DaemonSet) New() client.Object { return &appsv1.DaemonSet{} }

// NewList implements Kind.
func (DaemonSet) NewList() client.ObjectList { return &appsv1.DaemonSetList{} }

// Items implements Kind.
func (DaemonSet) Items(list client.ObjectList) []client.Object {
	return objects(list.(*appsv1.DaemonSetList).Items)
}

// template is the object's pod template.
func (DaemonSet) template(obj client.Object) *corev1.PodTemplateSpec {
	return &obj.(*appsv1.DaemonSet).Spec.Template
}

// TemplateAnnotations implements Kind.
func (k DaemonSet) TemplateAnnotations(obj client.Object) map[string]string {
	return k.template(obj).Annotations
}

// SecretsUsed implements Kind.
func (k DaemonSet) SecretsUsed(obj client.Object) []string { return SecretsUsedBy(k.template(obj)) }

// AnnotateTemplate implements Kind.
func (k DaemonSet) AnnotateTemplate(obj client.Object, annotations map[string]string) error {
	annotate(&k.template(obj).Annotations, annotations)
	return nil
}

// PodSelector implements Kind.
func (DaemonSet) PodSelector(obj client.Object) *metav1.LabelSelector {
	return obj.(*appsv1.DaemonSet).Spec.Selector
}

// Progress implements Kind by the rules of `kubectl rollout status`
// (DaemonSetStatusViewer, kubectl v0.34), with its messages. OnDelete never
// rolls pods: it is stalled. A DaemonSet has no revision number of its own;
// its generation names the rollout.
func (DaemonSet) Progress(obj client.Object) (Progress, bool) {
	ds := obj.(*appsv1.DaemonSet)
	p := Progress{Revision: "generation " + strconv.FormatInt(ds.Generation, 10)}
	s := ds.Status
	switch {
	case ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType:
		// kubectl names the StatefulSet constant here; both are "RollingUpdate".
		p.Stalled, p.Message = true, fmt.Sprintf("rollout status is only available for %s strategy type", appsv1.RollingUpdateStatefulSetStrategyType)
	case ds.Generation > s.ObservedGeneration:
		p.Message = "Waiting for daemon set spec update to be observed..."
	case s.UpdatedNumberScheduled < s.DesiredNumberScheduled:
		p.Message = fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d out of %d new pods have been updated...", ds.Name, s.UpdatedNumberScheduled, s.DesiredNumberScheduled)
	case s.NumberAvailable < s.DesiredNumberScheduled:
		p.Message = fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d of %d updated pods are available...", ds.Name, s.NumberAvailable, s.DesiredNumberScheduled)
	default:
		p.Done, p.Message = true, fmt.Sprintf("daemon set %q successfully rolled out", ds.Name)
	}
	return p, true
}
