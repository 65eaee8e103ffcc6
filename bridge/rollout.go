package bridge

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ArgoRolloutGVK is the kind of an Argo Rollout. eso-bridge handles it
// through unstructured objects, so Argo is not a dependency.
var ArgoRolloutGVK = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Rollout"}

// templateAnnotator is implemented by kinds whose PodTemplate is a decoded
// copy rather than a pointer into the object, so annotations must be written
// back explicitly.
type templateAnnotator interface {
	AnnotateTemplate(obj client.Object, annotations map[string]string) error
}

// argoRolloutKind restarts Argo Rollouts with an inline pod template
// (spec.template); a Rollout that points at a Deployment (spec.workloadRef) is
// restarted through that Deployment.
type argoRolloutKind struct{}

func (argoRolloutKind) Kind() string { return ArgoRolloutGVK.Kind }

func (argoRolloutKind) New() client.Object {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ArgoRolloutGVK)
	return u
}

func (argoRolloutKind) NewList() client.ObjectList {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(ArgoRolloutGVK.GroupVersion().WithKind(ArgoRolloutGVK.Kind + "List"))
	return list
}

func (argoRolloutKind) Items(list client.ObjectList) []client.Object {
	items := list.(*unstructured.UnstructuredList).Items
	out := make([]client.Object, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// PodTemplate decodes spec.template; a Rollout without one has an empty template.
func (argoRolloutKind) PodTemplate(obj client.Object) *corev1.PodTemplateSpec {
	template := &corev1.PodTemplateSpec{}
	raw, found, err := unstructured.NestedMap(obj.(*unstructured.Unstructured).Object, "spec", "template")
	if err != nil || !found {
		return template
	}
	_ = runtime.DefaultUnstructuredConverter.FromUnstructured(raw, template)
	return template
}

// AnnotateTemplate writes annotations into spec.template.metadata.annotations.
func (argoRolloutKind) AnnotateTemplate(obj client.Object, annotations map[string]string) error {
	u := obj.(*unstructured.Unstructured)
	for key, value := range annotations {
		if err := unstructured.SetNestedField(u.Object, value, "spec", "template", "metadata", "annotations", key); err != nil {
			return err
		}
	}
	return nil
}

// servedKinds returns the built-in kinds, plus Argo Rollouts when the cluster
// serves them. The check runs once at start: a Rollout CRD installed later is
// picked up at the next restart of eso-bridge.
func servedKinds(mapper meta.RESTMapper) []WorkloadKind {
	kinds := BuiltinKinds()
	if _, err := mapper.RESTMapping(ArgoRolloutGVK.GroupKind(), ArgoRolloutGVK.Version); err == nil {
		kinds = append(kinds, argoRolloutKind{})
	}
	return kinds
}

// ServedKinds returns the workload kinds the cluster behind mapper serves.
func ServedKinds(mapper meta.RESTMapper) []WorkloadKind { return servedKinds(mapper) }

// KindNamed finds among kinds the one a user wrote as name: "deployment",
// "deploy", "sts", "rollouts", ... (any case).
func KindNamed(kinds []WorkloadKind, name string) (WorkloadKind, bool) {
	canonical, ok := kindAliases[strings.ToLower(name)]
	if !ok {
		return nil, false
	}
	for _, kind := range kinds {
		if strings.ToLower(kind.Kind()) == canonical {
			return kind, true
		}
	}
	return nil, false
}
