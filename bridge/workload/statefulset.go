package workload

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// StatefulSet adapts apps/v1 StatefulSets.
type StatefulSet struct{}

// Kind implements Kind.
func (StatefulSet) Kind() string { return "StatefulSet" }

// New implements Kind.
func (StatefulSet) New() client.Object { return &appsv1.StatefulSet{} }

// NewList implements Kind.
func (StatefulSet) NewList() client.ObjectList { return &appsv1.StatefulSetList{} }

// Items implements Kind.
func (StatefulSet) Items(list client.ObjectList) []client.Object {
	return objects(list.(*appsv1.StatefulSetList).Items)
}

// template is the object's pod template.
func (StatefulSet) template(obj client.Object) *corev1.PodTemplateSpec {
	return &obj.(*appsv1.StatefulSet).Spec.Template
}

// TemplateAnnotations implements Kind.
func (k StatefulSet) TemplateAnnotations(obj client.Object) map[string]string {
	return k.template(obj).Annotations
}

// SecretsUsed implements Kind.
func (k StatefulSet) SecretsUsed(obj client.Object) []string { return SecretsUsedBy(k.template(obj)) }

// AnnotateTemplate implements Kind.
func (k StatefulSet) AnnotateTemplate(obj client.Object, annotations map[string]string) error {
	annotate(&k.template(obj).Annotations, annotations)
	return nil
}

// PodSelector implements Kind.
func (StatefulSet) PodSelector(obj client.Object) *metav1.LabelSelector {
	return obj.(*appsv1.StatefulSet).Spec.Selector
}

// Progress implements Kind by the rules of `kubectl rollout status`
// (StatefulSetStatusViewer, kubectl v0.34), with its messages. OnDelete
// never rolls pods: it is stalled.
func (StatefulSet) Progress(obj client.Object) (Progress, bool) {
	sts := obj.(*appsv1.StatefulSet)
	p := Progress{Revision: sts.Status.UpdateRevision}
	s, strategy := sts.Status, sts.Spec.UpdateStrategy
	switch {
	case strategy.Type != appsv1.RollingUpdateStatefulSetStrategyType:
		p.Stalled, p.Message = true, fmt.Sprintf("rollout status is only available for %s strategy type", appsv1.RollingUpdateStatefulSetStrategyType)
	case s.ObservedGeneration == 0 || sts.Generation > s.ObservedGeneration:
		p.Message = "Waiting for statefulset spec update to be observed..."
	case sts.Spec.Replicas != nil && s.ReadyReplicas < *sts.Spec.Replicas:
		p.Message = fmt.Sprintf("Waiting for %d pods to be ready...", *sts.Spec.Replicas-s.ReadyReplicas)
	case strategy.RollingUpdate != nil:
		if sts.Spec.Replicas != nil && strategy.RollingUpdate.Partition != nil {
			if want := *sts.Spec.Replicas - *strategy.RollingUpdate.Partition; s.UpdatedReplicas < want {
				p.Message = fmt.Sprintf("Waiting for partitioned roll out to finish: %d out of %d new pods have been updated...", s.UpdatedReplicas, want)
				return p, true
			}
		}
		p.Done, p.Message = true, fmt.Sprintf("partitioned roll out complete: %d new pods have been updated...", s.UpdatedReplicas)
	case s.UpdateRevision != s.CurrentRevision:
		p.Message = fmt.Sprintf("waiting for statefulset rolling update to complete %d pods at revision %s...", s.UpdatedReplicas, s.UpdateRevision)
	default:
		p.Done, p.Message = true, fmt.Sprintf("statefulset rolling update complete %d pods at revision %s...", s.CurrentReplicas, s.CurrentRevision)
	}
	return p, true
}
