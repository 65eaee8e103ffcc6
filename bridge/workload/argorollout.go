package workload

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ArgoRolloutGVK is the kind of an Argo Rollout. eso-bridge handles it
// through unstructured objects, so Argo is not a dependency.
var ArgoRolloutGVK = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Rollout"}

// ArgoRollout adapts Argo Rollouts with an inline pod template
// (spec.template); a Rollout that points at a Deployment (spec.workloadRef) is
// restarted through that Deployment.
type ArgoRollout struct{}

// Kind implements Kind.
func (ArgoRollout) Kind() string { return ArgoRolloutGVK.Kind }

// New implements Kind.
func (ArgoRollout) New() client.Object {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ArgoRolloutGVK)
	return u
}

// NewList implements Kind.
func (ArgoRollout) NewList() client.ObjectList {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(ArgoRolloutGVK.GroupVersion().WithKind(ArgoRolloutGVK.Kind + "List"))
	return list
}

// Items implements Kind.
func (ArgoRollout) Items(list client.ObjectList) []client.Object {
	items := list.(*unstructured.UnstructuredList).Items
	out := make([]client.Object, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// TemplateAnnotations implements Kind: spec.template.metadata.annotations.
func (ArgoRollout) TemplateAnnotations(obj client.Object) map[string]string {
	annotations, _, _ := unstructured.NestedStringMap(obj.(*unstructured.Unstructured).Object, "spec", "template", "metadata", "annotations")
	return annotations
}

// SecretsUsed implements Kind, from a decoded copy of spec.template.
func (a ArgoRollout) SecretsUsed(obj client.Object) []string { return SecretsUsedBy(a.template(obj)) }

// template decodes spec.template, a copy; a Rollout without one has an
// empty template.
func (ArgoRollout) template(obj client.Object) *corev1.PodTemplateSpec {
	template := &corev1.PodTemplateSpec{}
	raw, found, err := unstructured.NestedMap(obj.(*unstructured.Unstructured).Object, "spec", "template")
	if err != nil || !found {
		return template
	}
	_ = runtime.DefaultUnstructuredConverter.FromUnstructured(raw, template)
	return template
}

// AnnotateTemplate writes annotations into spec.template.metadata.annotations.
func (ArgoRollout) AnnotateTemplate(obj client.Object, annotations map[string]string) error {
	u := obj.(*unstructured.Unstructured)
	for key, value := range annotations {
		if err := unstructured.SetNestedField(u.Object, value, "spec", "template", "metadata", "annotations", key); err != nil {
			return err
		}
	}
	return nil
}

// Progress reads an Argo Rollout's phase: Healthy once its controller has
// seen the current spec, Degraded when it gave up.
func (ArgoRollout) Progress(obj client.Object) (Progress, bool) {
	u := obj.(*unstructured.Unstructured)
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	message, _, _ := unstructured.NestedString(u.Object, "status", "message")
	observed, _, _ := unstructured.NestedString(u.Object, "status", "observedGeneration")
	hash, _, _ := unstructured.NestedString(u.Object, "status", "currentPodHash")
	p := Progress{Revision: hash, Message: strings.TrimSpace("rollout phase " + phase + " " + message)}
	current := observed == strconv.FormatInt(u.GetGeneration(), 10)
	switch {
	case phase == "Healthy" && current:
		p.Done = true
	case phase == "Degraded":
		p.Stalled = true
	}
	return p, true
}

// PodSelector implements Kind: spec.selector.
func (ArgoRollout) PodSelector(obj client.Object) *metav1.LabelSelector {
	raw, found, err := unstructured.NestedMap(obj.(*unstructured.Unstructured).Object, "spec", "selector")
	if err != nil || !found {
		return nil
	}
	selector := &metav1.LabelSelector{}
	if runtime.DefaultUnstructuredConverter.FromUnstructured(raw, selector) != nil {
		return nil
	}
	return selector
}
