// Package workload adapts each kind of workload eso-bridge restarts —
// Deployment, StatefulSet, DaemonSet, CronJob and, where served, Argo
// Rollout — behind one interface: where its pod template is, how its rollout
// stands, and which pods are its own. One file per kind.
package workload

import (
	"maps"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
)

// Kind adapts one kind of workload that eso-bridge restarts. Restarting is
// the same for every kind — a pod-template annotation patch — so this is all
// that differs.
type Kind interface {
	// Kind is the API kind, e.g. "Deployment".
	Kind() string
	// New returns an empty object of the kind.
	New() client.Object
	// NewList returns an empty list of the kind.
	NewList() client.ObjectList
	// Items returns the objects of a list made by NewList.
	Items(list client.ObjectList) []client.Object
	// TemplateAnnotations returns the annotations of the object's pod
	// template, to read. For a CronJob it is the job template's: the next
	// run gets the new value, and running jobs are left alone.
	TemplateAnnotations(obj client.Object) map[string]string
	// SecretsUsed returns the names of the Secrets the object's pods read
	// (SecretsUsedBy), each once.
	SecretsUsed(obj client.Object) []string
	// AnnotateTemplate sets annotations on the object's pod template, which
	// rolls its pods once the change is written.
	AnnotateTemplate(obj client.Object, annotations map[string]string) error
	// Progress judges how far the object has rolled out its current pod
	// template; false for kinds without a rollout (CronJob).
	Progress(obj client.Object) (Progress, bool)
	// PodSelector returns the label selector of the object's pods, or nil.
	PodSelector(obj client.Object) *metav1.LabelSelector
}

// Progress is how far a workload has rolled out its current pod template.
type Progress struct {
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

// Builtin are the workload kinds every cluster has; Argo Rollouts are added
// where the cluster serves them (see Served).
func Builtin() []Kind {
	return []Kind{Deployment{}, StatefulSet{}, DaemonSet{}, CronJob{}}
}

// Served returns the built-in kinds, plus Argo Rollouts when the cluster
// behind mapper serves them. The check runs once at start: a Rollout CRD
// installed later is picked up at the next restart of eso-bridge.
func Served(mapper meta.RESTMapper) []Kind {
	kinds := Builtin()
	if _, err := mapper.RESTMapping(ArgoRolloutGVK.GroupKind(), ArgoRolloutGVK.Version); err == nil {
		kinds = append(kinds, ArgoRollout{})
	}
	return kinds
}

// Named finds among kinds the one a user wrote as name: "deployment",
// "deploy", "sts", "rollouts", ... (any case).
func Named(kinds []Kind, name string) (Kind, bool) {
	canonical, ok := annotations.CanonicalKind(name)
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

// Key names a workload as rollout annotations and indexes do: "kind/name"
// with the kind in lower case.
func Key(kind, name string) string { return strings.ToLower(kind) + "/" + name }

// objects turns a slice of API structs into client.Objects pointing into it.
func objects[T any, PT interface {
	*T
	client.Object
}](items []T) []client.Object {
	out := make([]client.Object, len(items))
	for i := range items {
		out[i] = PT(&items[i])
	}
	return out
}

// annotate sets annotations on a pod template's annotations, in place.
func annotate(into *map[string]string, annotations map[string]string) {
	if *into == nil {
		*into = map[string]string{}
	}
	maps.Copy(*into, annotations)
}
